use clap::Parser;

use imapdir::cli::Cli;
use imapdir::exit_codes::for_error;

fn main() {
    let cli = Cli::parse();
    let code = match imapdir::cmd::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("imapdir: {err:#}");
            for_error(&err)
        }
    };
    std::process::exit(code.code());
}
