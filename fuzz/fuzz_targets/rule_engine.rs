//! The rule engine: any rule file either loads or gives an error naming the file, and any text
//! scanned with the built-in rules gives removals inside the text, on character boundaries, that
//! the edit planner can settle.
#![no_main]

use std::sync::OnceLock;

use gleaner::boilerplate::rules::parse_rules;
use gleaner::boilerplate::{Boilerplate, BoilerplateConfig};
use gleaner::{edit, text};
use libfuzzer_sys::fuzz_target;

fn builtin() -> &'static Boilerplate {
    static STEP: OnceLock<Boilerplate> = OnceLock::new();
    STEP.get_or_init(|| {
        Boilerplate::from_config(&BoilerplateConfig::default())
            .expect("the built-in rules load")
            .expect("the step is on by default")
    })
}

fn check(step: &Boilerplate, doc: &str) {
    let facts = step.scan(doc);
    for r in &facts.removals {
        assert!(r.start <= r.end && r.end <= doc.len(), "{r:?} outside the text");
        assert!(doc.is_char_boundary(r.start) && doc.is_char_boundary(r.end));
    }
    let blocks = text::blocks(doc);
    let spans = edit::plan(doc, &blocks, facts.removals.clone());
    assert!(spans.windows(2).all(|w| w[0].end <= w[1].start));
}

fuzz_target!(|input: (String, String)| {
    let (rule_file, doc) = input;
    check(builtin(), &doc);
    // A user rule file: its rules load, or the error names the file.
    if let Err(e) = parse_rules("user.toml", &rule_file) {
        assert!(e.to_string().contains("user.toml"), "error names no file: {e}");
    }
});
