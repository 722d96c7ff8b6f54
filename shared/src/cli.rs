//! The command line every paper binary shares; `cargo xtask reproduce` fills it in.

use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// Seconds: the same pipeline, tiny, for tests.
    Smoke,
    /// Minutes on a 2-core CPU: the committed tables.
    Mini,
    /// The paper's models, data and hyperparameters (GPU).
    Paper,
}

impl Scale {
    pub fn name(self) -> &'static str {
        match self {
            Scale::Smoke => "smoke",
            Scale::Mini => "mini",
            Scale::Paper => "paper",
        }
    }
}

#[derive(Clone, Debug, clap::Parser)]
pub struct RunArgs {
    #[arg(long, value_enum, default_value = "mini")]
    pub scale: Scale,
    /// `cpu` or `cuda` (bf16 on CUDA where the config asks for it).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// The one seed driving every random number generator.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where the tables go (default `results/<slug>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Root of the fetched data (laid out like `datasets/.cache`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Print the plan and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// CPU threads for libtorch (default: the config's value).
    #[arg(long)]
    pub threads: Option<i32>,
}
