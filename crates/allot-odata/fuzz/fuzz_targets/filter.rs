//! libFuzzer target: every option parser on arbitrary bytes, with the round-trip and SQL
//! invariants of `allot_odata_fuzz::check`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    allot_odata_fuzz::check(data);
});
