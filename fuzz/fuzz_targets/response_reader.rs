//! `imapdir::fuzzing::response_reader`: see that function for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| imapdir::fuzzing::response_reader(data));
