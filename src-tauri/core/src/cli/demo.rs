//! `telltale demo`: `telltale serve` with the built-in demo source, whatever the
//! config file says about sources (its store and relay settings still apply).

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use super::serve::{load_config, run_plan, CommonArgs, SourcePlan};
use crate::demo::{DemoOptions, DEFAULT_SEED};

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Another seed gives another (equally deterministic) story.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Simulated seconds per real second (1 = a few events per second).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub fn run(config: Option<&Path>, args: DemoArgs) -> anyhow::Result<ExitCode> {
    if !(args.speed.is_finite() && args.speed > 0.0) {
        anyhow::bail!("--speed must be a positive number");
    }
    let loaded = load_config(config)?;
    eprintln!(
        "telltale: running the built-in demo source (simulated jobs, seed {})",
        args.seed
    );
    let mut opts = DemoOptions::new(args.seed);
    opts.speed = args.speed;
    run_plan(loaded, &args.common, SourcePlan::Demo(opts))
}
