fn main() -> std::process::ExitCode {
    clawlocal::main()
}
