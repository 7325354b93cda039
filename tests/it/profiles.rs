use crate::support::{Ctx, bundled_profiles};

#[test]
fn list_json_names_every_bundled_profile_with_a_description() {
    let ctx = Ctx::new();
    let run = ctx.run(&["profiles", "list", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    let listed: Vec<String> =
        doc["profiles"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_string()).collect();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(sorted, bundled_profiles());
    for p in doc["profiles"].as_array().unwrap() {
        assert!(p["description"].as_str().is_some_and(|d| !d.is_empty()));
        assert!(p["budget_bytes"].as_u64().unwrap() > 0);
    }
}

#[test]
fn show_resolves_bundled_and_auto() {
    let ctx = Ctx::new();
    let run = ctx.run(&["profiles", "show", "vps-8gb", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["memory"], 8u64 << 30);
    assert_eq!(doc["budget_bytes"], 5u64 << 30);
    // `auto` reads this very machine: whatever it is, it has memory and cores.
    let run = ctx.run(&["profiles", "show", "auto", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["name"], "auto");
    assert!(doc["memory"].as_u64().unwrap() > 0 && doc["cores"].as_u64().unwrap() >= 1);
    assert!(doc["description"].as_str().unwrap().starts_with("detected:"));
}

#[test]
fn unknown_profile_exits_2_and_names_it() {
    let ctx = Ctx::new();
    let run = ctx.run(&["plan", "--profile", "vps-9gb"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("error: unknown profile `vps-9gb`"), "{}", run.stderr);
    assert!(run.stderr.contains("hint:") && run.stderr.contains("vps-8gb"), "{}", run.stderr);
    let run = ctx.run(&["plan", "--profile", "vps-9gb", "--json"]);
    assert_eq!(run.code, 2);
    assert!(run.json()["error"]["message"].as_str().unwrap().contains("vps-9gb"));
}

#[test]
fn a_profile_file_with_a_bad_size_exits_2_and_names_the_field() {
    let ctx = Ctx::new();
    let path = ctx.write("mine.json5", "{ memory: \"lots\", cores: 2, disk: \"10GiB\" }");
    let run = ctx.run(&["plan", "--profile", path.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("`memory`") && run.stderr.contains("lots"), "{}", run.stderr);
    assert!(run.stderr.contains("mine.json5"), "{}", run.stderr);
}

#[test]
fn a_profile_file_with_a_syntax_error_names_line_and_column() {
    let ctx = Ctx::new();
    let path = ctx.write("broken.json5", "{\n  memory: \"8GiB\"\n  cores: 2,\n}\n");
    let run = ctx.run(&["profiles", "show", path.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("broken.json5:3:3"), "{}", run.stderr);
}

#[test]
fn a_json5_profile_with_comments_and_trailing_commas_loads() {
    let ctx = Ctx::new();
    let path = ctx.write(
        "home-server.json5",
        "// my home server\n{\n  description: 'NUC',\n  memory: '16GiB', // RAM\n  /* block\n     comment */\n  cores: 4,\n  disk: 107374182400,\n  service: 'none',\n  port: 9876,\n}\n",
    );
    let run = ctx.run(&["plan", "--profile", path.to_str().unwrap(), "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["profile"]["name"], "home-server");
    assert_eq!(doc["profile"]["memory"], 16u64 << 30);
    assert_eq!(doc["profile"]["port"], 9876);
    assert!(doc["selection"]["context"].as_u64().unwrap() >= 16_000);
}
