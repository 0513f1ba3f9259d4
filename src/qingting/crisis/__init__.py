"""Crisis management: early warning of complaint bursts (detection.py, pure Python),
replay of historical complaints through the same engine (replay.py), crisis cases."""
