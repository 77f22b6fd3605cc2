//! The one kafka08 binary: `kafka08 <tool or 0.8 class name> [args...]`. It only picks a
//! tool; every tool lives in the library (`kafka08::tools`).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(name) = args.first() else {
        eprintln!("usage: kafka08 <tool> [options]   (tools: {})", tool_names());
        std::process::exit(1);
    };
    match kafka08::tools::find(name) {
        Some(tool) => std::process::exit(tool(&args[1..])),
        None => {
            eprintln!("Error: Could not find or load main class {}", name);
            eprintln!("known tools: {}", tool_names());
            std::process::exit(1);
        }
    }
}

fn tool_names() -> String {
    kafka08::tools::TOOLS.iter().map(|(class, _, _)| *class).collect::<Vec<_>>().join(", ")
}
