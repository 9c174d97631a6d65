"""Job: live mode, a preset played in the browser and steered while it plays.

- `session`: `LiveOptions` and `LiveSession`, every piece below wired together
- `engine`: the render loop (source -> calibration -> causal analysis -> beat -> causal mapping
  -> generator -> sinks)
- `server` (+ `http`: the Host check, responses, the track in ranges): the HTTP + WebSocket
  server, the control page and the projector page
- `control`, `params`, `show`, `scene_fade`, `launch`: the preset being played, its keys as the
  page shows them, masters, scenes and their crossfade, quantised launches
- `beat` (the one beat state, `BeatClock`), `tempo` (the tempo-source interface), `tempos` (the
  registry), one `tempo_*` module per tempo source (`tempo_audio`: the analysis's beats,
  `tempo_tap`, `tempo_midi`: MIDI clock in, `tempo_link`: Ableton Link, an optional extra)
- `calibrate`: input level meter, gain, band sensitivity, A/V offset
- `osc`, `osc_api` (every OSC address, typed), `midi`, `midi_map`: OSC and MIDI control
- `source` (the interface), `sources` (the registry), one `source_*` module per source: what
  the loop follows, its audio and/or clock (`source_file`: a track played in the page,
  `source_soundcard`: an audio input, `source_clock`: no audio, the clock alone)
- `sink` (the interface), `sinks` (the registry), one `sink_*` module per sink: where frames go
  (`sink_page`: the page's feed, `sink_ndi`, `sink_camera`: video feeds into VJ software,
  `sink_record`: recording a session, `sink_osc`: beat and scene as OSC, `sink_midi`: LEDs and
  MIDI clock out)
- `registry`: the name -> class table the registries are
"""
