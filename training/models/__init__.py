"""Kinegraph-tiny model definitions (text encoder, U-Net family, configs)."""
