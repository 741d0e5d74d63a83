//! The one integration-test binary: it drives the real `tickvault` binary and library from the
//! outside, against the real simulator. Modules are named after the capability they check;
//! test names are sentences.

mod day;
mod decode;
mod eod;
mod export;
mod faults;
mod first_contact;
mod helpers;
mod layout;
mod ops;
mod package;
mod pipeline;
mod publisher;
mod python_compat;
mod recovery;
mod roles;
mod run_cli;
mod scheduler;
mod settings;
mod sim_cli;
mod sim_feed;
mod sim_login;
mod sim_rest;
mod storage;
mod systemd;
mod tls;
mod views;
