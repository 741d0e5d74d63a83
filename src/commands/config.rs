//! `tickvault config`: the merged settings (compiled-in defaults, `--config FILE`, then
//! `TICKVAULT__…` variables) as TOML, each secret shown only as where it comes from. The tree is
//! printed even when it does not validate (that is when it is needed most); what is wrong, and
//! any warning, goes to stderr, and the exit status is 78 for settings `run` would refuse.

use std::process::ExitCode;

use super::{Failure, exit};
use crate::settings::{Settings, Sources};

/// Arguments of `tickvault config`.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {}

/// Runs the command.
pub fn run(_args: &ConfigArgs, sources: &Sources<'_>) -> Result<ExitCode, Failure> {
    let tree = crate::settings::merged_view(sources)?;
    let mut layers = vec!["compiled-in defaults".to_string()];
    if sources.preset.is_some() {
        layers.push("the command's preset".into());
    }
    if let Some(file) = sources.file {
        layers.push(file.display().to_string());
    }
    let env = sources
        .env
        .keys()
        .filter(|k| k.starts_with(&format!("{}__", crate::settings::ENV_PREFIX)))
        .count();
    if env > 0 {
        layers.push(format!("{env} TICKVAULT__ variable(s)"));
    }
    if let Some(dir) = &sources.credentials_dir {
        layers.push(format!("credentials in {}", dir.display()));
    }
    print!(
        "# tickvault settings, merged from: {}\n# Secrets show where they come from, never their value.\n\n{tree}",
        layers.join(", ")
    );
    match Settings::load(sources) {
        Ok(settings) => {
            for warning in &settings.warnings {
                eprintln!("warning: {warning}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("tickvault: {e}");
            Ok(ExitCode::from(exit::CONFIG))
        }
    }
}
