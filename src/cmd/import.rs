//! `imapdir import mbsync|offlineimap`: another tool's config as imapdir
//! accounts.

use crate::cli::{Cli, ImportArgs, Peer};
use crate::config::Environment;
use crate::exit_codes::ExitCode;
use crate::report::print_stdout;

/// `import`: reads the peer's config, never imapdir's (except to append to it).
pub fn command(cli: &Cli, args: &ImportArgs) -> anyhow::Result<ExitCode> {
    use crate::import::{self, Source};
    let env = Environment::from_process();
    let source = match args.peer {
        Peer::Mbsync => Source::Mbsync,
        Peer::Offlineimap => Source::OfflineImap,
    };
    let (file, imported) = import::read(source, args.file.as_deref(), &env)?;
    for line in import::diagnostics(&imported, &file) {
        eprintln!("{line}");
    }
    let text = import::render(&imported, source, &file);
    import::validate(&text, &env)?;
    if !args.write {
        print_stdout(&text);
        return Ok(ExitCode::Success);
    }
    let path = match &cli.config {
        Some(p) => p.clone(),
        None => env.default_config_path()?,
    };
    let names: Vec<String> = imported.accounts.iter().map(|a| a.name.clone()).collect();
    import::append_to_config(&path, &text, &names)?;
    eprintln!(
        "imapdir: added {} {} to {}",
        if names.len() == 1 {
            "account"
        } else {
            "accounts"
        },
        names.join(", "),
        path.display()
    );
    Ok(ExitCode::Success)
}
