//! Day-2 operations: the leak ledger (`audit`, and the operator's periodic scan), bulk import of
//! existing addresses (`import`), and the on-call overview (`status`). The same binary serves
//! them as `eip-operator <command>` and, installed as `kubectl-eip`, as `kubectl eip <command>`.

pub mod audit;
pub mod cli;
pub mod import;
pub mod ledger;
pub mod render;
pub mod scan;
pub mod status;
