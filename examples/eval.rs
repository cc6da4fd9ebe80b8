//! The library in a few lines: connect, evaluate, print.
//!
//! `cargo run --example eval -- local: 'os.listdir("/")'`

use pushy::printer::Pretty;
use pushy::{Session, Target};

fn main() -> Result<(), pushy::Error> {
    let mut args = std::env::args().skip(1);
    let host = args.next().unwrap_or_else(|| "local:".into());
    let code = args.next().unwrap_or_else(|| "platform.node()".into());
    let mut session = Session::connect(&Target::parse(&host)?)?;
    let value = session.eval(&code)?;
    println!("{}", Pretty { width: 80, color: false }.render(&value));
    session.close()
}
