"""Job: live mode, a preset played in the browser and steered while it plays.

- `session`: `LiveOptions` and `LiveSession`, every piece below wired together
- `engine`: the render loop (source -> causal analysis -> causal mapping -> generator -> sinks)
- `server`: the HTTP + WebSocket server and its page
- `control`, `show`, `scene_fade`: the preset being played, masters, scenes and their crossfade
- `osc`, `midi`, `midi_map`: OSC and MIDI control
- `source` (the interface), `sources` (the registry), one `source_*` module per source: what
  the loop follows, its audio and/or clock (`source_file`: a track played in the page,
  `source_soundcard`: an audio input)
- `sink` (the interface), `sinks` (the registry), one `sink_*` module per sink: where frames go
  (`sink_page`: the page's feed, `sink_ndi`, `sink_camera`: video feeds into VJ software,
  `sink_record`: recording a session)
- `registry`: the name -> class table both registries are
"""
