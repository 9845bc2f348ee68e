"""Tests of the filter and map nodes and the path, condition and expression machinery behind them."""
