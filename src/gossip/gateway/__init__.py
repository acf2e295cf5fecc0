"""The JSON gateway of spec 004: sessions, fan-out, resume, presence and typing."""
