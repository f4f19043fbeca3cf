#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| userdp_protocol::fuzz_entry::text_parse(data));
