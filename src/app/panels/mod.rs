//! The window's panels, one file per panel or side-panel section. A panel draws from the state it is
//! given, edits [`crate::app::settings::Settings`] in place and returns the
//! [`crate::app::command::Command`]s pressed; it never sees the app itself.

pub mod compare;
pub mod display;
pub mod export;
pub mod field;
pub mod jacobian;
pub mod ledger;
pub mod messages;
pub mod network;
pub mod presets;
pub mod run_controls;
pub mod share;
pub mod side;
pub mod sweep;
pub mod timeline;
pub mod top_bar;
pub mod training;
