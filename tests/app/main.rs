//! The one integration-test binary: it drives the real `tickvault` binary and library from the
//! outside. Modules are named after the capability they check; test names are sentences.

mod decode;
mod helpers;
mod settings;
