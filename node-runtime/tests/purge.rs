//! The allocator option `pinion::alloc::return_freed_memory_at_once` sets by number is
//! mimalloc's purge delay: a child process started with `MIMALLOC_PURGE_DELAY=123`
//! reads 123 through that number, and setting it makes it 0.

const CHILD: &str = "PINION_PURGE_PROBE";

#[test]
fn the_option_set_by_number_is_mimallocs_purge_delay() {
    if std::env::var_os(CHILD).is_some() {
        #[allow(clippy::print_stdout)]
        {
            println!("purge delay {:?}", pinion::alloc::purge_delay_ms());
        }
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "the_option_set_by_number_is_mimallocs_purge_delay",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .env("MIMALLOC_PURGE_DELAY", "123")
        .output()
        .expect("the child runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("purge delay Some(123)"),
        "the child read another option: {text}"
    );
    pinion::alloc::return_freed_memory_at_once();
    assert_eq!(pinion::alloc::purge_delay_ms(), Some(0));
}
