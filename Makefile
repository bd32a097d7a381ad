# One entry point for everything; `make test` is what CI runs (.ci/run).
.PHONY: test demo lint unit bench fuzz peers

test:
	./scripts/test.sh

demo:
	cargo run --release -p ctilink-cli -- demo --duration 20

bench:
	cargo bench -p ctilink --bench decode

peers:
	./benches/peers/run.sh
