//! A panic removes the temporary files still pending (its own test process: the hook is global).

use gleaner::corpus::atomic::{remove_pending_on_panic, PendingGuard};

#[test]
fn a_panic_removes_the_pending_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(".out.jsonl.tmp");
    let folder = dir.path().join(".gleaner-work-x");
    std::fs::write(&file, b"partial").unwrap();
    std::fs::create_dir_all(folder.join("scan")).unwrap();
    std::fs::write(folder.join("scan").join("facts.bin"), b"facts").unwrap();
    // Registered as a run registers them; never dropped, as under an abort.
    std::mem::forget(PendingGuard::new(&file));
    std::mem::forget(PendingGuard::new(&folder));
    remove_pending_on_panic();
    let panicked = std::thread::spawn(|| panic!("a bug")).join();
    assert!(panicked.is_err());
    assert!(!file.exists(), "the temporary output is removed");
    assert!(
        !folder.exists(),
        "the work folder is removed with what is in it"
    );
    assert!(dir.path().exists(), "nothing else is touched");
}
