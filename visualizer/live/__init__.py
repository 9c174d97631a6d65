"""Job: live mode, a preset played in the browser and steered while it plays.

- `session`: `LiveOptions` and `LiveSession`, every piece below wired together
- `engine`: the render loop (audio clock -> causal analysis -> causal mapping -> generator -> JPEG)
- `server`: the HTTP + WebSocket server and its page
- `control`, `show`, `scene_fade`: the preset being played, masters, scenes and their crossfade
- `inputs`, `osc`, `midi`, `midi_map`: audio input, OSC and MIDI control
- `outputs`, `recorder`: video feeds into VJ software, and recording a session
"""
