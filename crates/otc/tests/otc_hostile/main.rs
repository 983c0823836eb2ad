//! `OtcProvider` against hostile or broken endpoints: garbage answers, gateway 404s, redirects,
//! servers that echo the request, throttling with misleading codes, unusable credentials.
//!
//! The rule these tests pin: **absence is a fact only when proven** (a well-formed answer of the
//! cloud), and nothing the provider returns carries a credential.

mod classification;
mod credentials;
mod describe;
mod generators;
mod mutations;
mod oracles;
mod properties;
mod support;
