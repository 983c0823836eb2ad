//! The simulator's otc wire protocol (not served yet).

use axum::Router;

use super::Simulator;

pub fn routes(_sim: Simulator) -> Router {
    Router::new()
}
