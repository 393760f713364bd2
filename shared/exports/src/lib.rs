//! What export-trigger and export-processor agree on: the manifests DynamoDB writes with every
//! export ([`manifest`]), the work-queue message for one data file ([`work`], sent by
//! [`queue`]), and the state table where each export's manifest and each data file's progress
//! are kept ([`state`]). The processor writes progress; the trigger audits it.

pub mod manifest;
pub mod queue;
pub mod state;
pub mod work;
