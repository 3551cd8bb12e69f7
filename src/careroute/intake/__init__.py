"""Intake adapters: every source becomes an InboundItem and goes through dispatcher.intake."""
