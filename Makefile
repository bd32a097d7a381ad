# One entry point for everything; `make test` is what CI runs (.ci/run).
.PHONY: test demo lint unit bench fuzz peers header decls dist

test:
	./scripts/test.sh

# Release artifacts into dist/ (C tarball, .deb, Python wheel and sdist, npm packages);
# scripts/test-dist.sh (run by make test) installs and runs each without a Rust toolchain.
dist:
	./scripts/dist.sh

demo:
	cargo run --release -p ctilink-cli -- demo --duration 20

bench:
	cargo bench -p ctilink --bench decode

peers:
	./benches/peers/run.sh

# Regenerates the C header from ffi/src with the pinned cbindgen (tests fail on drift).
header:
	cbindgen --quiet --config ffi/cbindgen.toml --crate ctilink-ffi --output include/ctilink.h ffi

# Regenerates the bindings' declarations of the events (TypeScript for Node and the browser,
# the Python stubs and enums) from core/src/model/catalogue.rs (tests fail on drift).
decls:
	cargo run --quiet -p ctilink-tests --bin gen-decls
