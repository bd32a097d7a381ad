# One entry point for everything; `make test` is what CI runs (.ci/run).
.PHONY: test demo lint unit bench fuzz peers header

test:
	./scripts/test.sh

demo:
	cargo run --release -p ctilink-cli -- demo --duration 20

bench:
	cargo bench -p ctilink --bench decode

peers:
	./benches/peers/run.sh

# Regenerates the C header from ffi/src with the pinned cbindgen (tests fail on drift).
header:
	cbindgen --quiet --config ffi/cbindgen.toml --crate ctilink-ffi --output include/ctilink.h ffi
