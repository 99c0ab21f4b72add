//! `imapdir::fuzzing::maildir_file_name`: see that function for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| imapdir::fuzzing::maildir_file_name(data));
