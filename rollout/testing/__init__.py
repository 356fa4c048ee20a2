"""Test support shipped with the product, so third parties can hold their adapters to the same
contracts ours keep (see router_contract)."""
