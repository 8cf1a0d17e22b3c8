//! Compiles every `.proto` under `proto/csops` with protox (no `protoc` needed) and writes the
//! file descriptor set that the services serve through reflection.

use std::path::{Path, PathBuf};

fn collect_protos(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let mut protos = Vec::new();
    collect_protos(&root.join("csops"), &mut protos)?;
    protos.sort();
    println!("cargo:rerun-if-changed={}", root.join("csops").display());
    for proto in &protos {
        println!("cargo:rerun-if-changed={}", proto.display());
    }

    // protox keeps source info, so reflection (and `grpcurl describe`) shows the comments.
    let fds = protox::compile(&protos, [&root])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let bytes = prost::Message::encode_to_vec(&fds);
    std::fs::write(out_dir.join("csops_descriptor.bin"), bytes)?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
