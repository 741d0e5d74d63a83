//! What a process does (`tickvault run --role`).

/// What a process does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Sockets → journal → database (and Redis when `redis.enabled`).
    #[default]
    All,
    /// Sockets → journal → Redis stream; no database (the journal is this host's record).
    Ingest,
    /// Redis stream (consumer group) → database; no sockets.
    Store,
}

impl Role {
    /// Its name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::All => "all",
            Role::Ingest => "ingest",
            Role::Store => "store",
        }
    }
}
