// "Talk to Luna": OpenAI Realtime over WebRTC with a short-lived key minted by Luna's server.
// Tool calls from the model run on Luna's server (POST /api/tools/{name}, as the logged-in
// member); the transcript and token usage are posted back when the call ends.
// Without a server key it falls back to the browser's own speech recognition and synthesis
// over /api/chat, and says so plainly when the browser has neither.
(function () {
  "use strict";

  const state = {
    mode: "idle", transcript: [], toolCalls: [], usage: { responses: [], transcriptions: [] },
    startedAt: 0, interactionId: null, agent: "luna", error: null,
  };
  window.lunaVoice = state;  // read by tests and handy in the console

  let pc = null, channel = null, mic = null, pending = [], seenCalls = new Set();
  let button, status, audio;

  function setStatus(text) { if (status) status.textContent = text; }
  function chat() { return window.LunaChat; }
  function setMode(mode) {
    state.mode = mode;
    if (button) {
      const live = mode === "connecting" || mode === "connected" || mode === "listening";
      button.setAttribute("aria-pressed", live ? "true" : "false");
      button.textContent = live ? "Hang up" : "Talk to Luna";
    }
  }

  function sendEvent(event) {
    if (channel && channel.readyState === "open") channel.send(JSON.stringify(event));
  }

  // --- realtime ---------------------------------------------------------------------------

  async function startRealtime() {
    setMode("connecting");
    setStatus("Connecting…");
    state.transcript = []; state.toolCalls = [];
    state.usage = { responses: [], transcriptions: [] };
    state.interactionId = null; state.error = null; state.agent = "luna";
    seenCalls = new Set(); pending = [];
    const minted = await chat().postJSON("/api/realtime/client_secrets", {});
    if (!minted.ok) {
      const why = (minted.data && minted.data.detail) || "the server could not start a call";
      return fail("Voice is not available: " + why);
    }
    const secret = minted.data;
    try {
      mic = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (e) {
      return fail("Luna needs your microphone for a voice call (" + e.name + ").");
    }
    pc = new RTCPeerConnection();
    pc.ontrack = function (e) { if (audio) audio.srcObject = e.streams[0]; };
    pc.onconnectionstatechange = function () {
      if (pc && pc.connectionState === "failed") {
        hangUp("The call dropped.");
      }
    };
    mic.getTracks().forEach(function (t) { pc.addTrack(t, mic); });
    channel = pc.createDataChannel("oai-events");
    channel.onmessage = function (e) {
      let event;
      try { event = JSON.parse(e.data); } catch (err) { return; }
      onEvent(event);
    };
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    let answer;
    try {
      answer = await fetch(secret.calls_url, {
        method: "POST", body: offer.sdp,
        headers: { "Authorization": "Bearer " + secret.value, "Content-Type": "application/sdp" },
      });
    } catch (e) {
      return fail("Could not reach the voice service.");
    }
    if (!answer.ok) return fail("The voice service refused the call (" + answer.status + ").");
    await pc.setRemoteDescription({ type: "answer", sdp: await answer.text() });
    state.startedAt = Date.now();
  }

  function onEvent(event) {
    switch (event.type) {
      case "session.created":
        setMode("connected");
        setStatus("Connected — say hello to Luna. Press Hang up when you're done.");
        break;
      case "conversation.item.input_audio_transcription.completed":
        if (event.transcript && event.transcript.trim()) {
          state.transcript.push({ role: "user", text: event.transcript.trim() });
          chat().addMessage("user", event.transcript.trim());
        }
        if (event.usage) state.usage.transcriptions.push(event.usage);
        break;
      case "response.output_audio_transcript.done":
      case "response.output_text.done": {
        const text = (event.transcript || event.text || "").trim();
        if (text) {
          state.transcript.push({ role: "assistant", text: text });
          chat().addMessage("luna", text);
        }
        break;
      }
      case "response.function_call_arguments.done":
        runCall(event.call_id, event.name, event.arguments);
        break;
      case "response.done": {
        const response = event.response || {};
        if (response.usage) state.usage.responses.push(response.usage);
        (response.output || []).forEach(function (item) {
          if (item.type === "function_call") runCall(item.call_id, item.name, item.arguments);
        });
        afterResponse();
        break;
      }
      case "error":
        setStatus("Luna hit a snag: " + ((event.error && event.error.message) || "unknown error"));
        break;
    }
  }

  // Each tool call runs once; when the response that asked for them is done, the model
  // gets every output and is asked to carry on.
  function runCall(callId, name, rawArgs) {
    if (!callId || seenCalls.has(callId)) return;
    seenCalls.add(callId);
    pending.push(executeCall(callId, name, rawArgs));
  }

  async function executeCall(callId, name, rawArgs) {
    let args = {};
    try { args = rawArgs ? JSON.parse(rawArgs) : {}; } catch (e) { args = null; }
    let output, ok = false;
    if (args === null) {
      output = { ok: false, error: "invalid_input", detail: "the arguments were not valid JSON" };
    } else if (/^transfer_(to|back_to)_/.test(name)) {
      const r = await chat().postJSON("/api/realtime/handoff", { tool: name });
      ok = r.ok;
      if (r.ok) {
        sendEvent({ type: "session.update", session: r.data.session });
        state.agent = r.data.agent;
        output = { ok: true, result: "You are now " + r.data.agent.replace(/_/g, " ") + "." };
      } else {
        output = { ok: false, error: "not_found", detail: "no such assistant" };
      }
    } else {
      const r = await chat().postJSON("/api/tools/" + encodeURIComponent(name), { arguments: args });
      output = r.data || { ok: false, error: "error", detail: "the tool call failed" };
      ok = Boolean(r.ok && r.data && r.data.ok);
      const anchor = chat().addMessage("system", "Luna used " + name.replace(/_/g, " "));
      chat().renderChips(anchor, [{ tool: name, arguments: args, ok: ok,
        result: output.ok ? output.result : output }]);
      if (ok) chat().refreshMain();
    }
    state.toolCalls.push({ name: name, ok: ok, call_id: callId });
    sendEvent({ type: "conversation.item.create",
      item: { type: "function_call_output", call_id: callId, output: JSON.stringify(output) } });
  }

  async function afterResponse() {
    if (!pending.length) return;
    const calls = pending;
    pending = [];
    await Promise.all(calls);
    sendEvent({ type: "response.create" });
  }

  async function hangUp(reason) {
    if (state.mode === "idle" || state.mode === "saving") return;
    const wasRealtime = pc !== null;
    setMode("saving");
    if (mic) mic.getTracks().forEach(function (t) { t.stop(); });
    if (channel) channel.close();
    if (pc) pc.close();
    pc = null; channel = null; mic = null;
    if (!wasRealtime || (!state.transcript.length && !state.toolCalls.length)) {
      setMode("idle");
      setStatus(reason || "Call ended.");
      return;
    }
    const r = await chat().postJSON("/api/realtime/transcript", {
      transcript: state.transcript, usage: state.usage, tool_calls: state.toolCalls,
      duration_s: state.startedAt ? (Date.now() - state.startedAt) / 1000 : 0, agent: state.agent,
    });
    setMode("idle");
    if (r.ok) {
      state.interactionId = r.data.id;
      setStatus((reason ? reason + " " : "") + "Call saved — see Conversations.");
    } else {
      setStatus("The call ended but its transcript could not be saved.");
    }
  }

  function fail(message) {
    state.error = message;
    if (mic) mic.getTracks().forEach(function (t) { t.stop(); });
    if (pc) pc.close();
    pc = null; channel = null; mic = null;
    setMode("idle");
    setStatus(message);
  }

  // --- browser speech fallback ---------------------------------------------------------------

  const Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;
  const synth = window.speechSynthesis;
  let recognizer = null;

  function speak(text) {
    if (!synth || !window.SpeechSynthesisUtterance) return;
    synth.cancel();
    synth.speak(new window.SpeechSynthesisUtterance(text));
  }

  function startBrowserSpeech() {
    if (!Recognition) {
      setStatus(synth
        ? "This browser can't listen, so type to Luna below — she'll read her replies aloud."
        : "Voice isn't available here: the server has no OpenAI key and this browser has no " +
          "speech recognition or speech output. You can still type to Luna.");
      state.mode = synth ? "speak-only" : "unavailable";
      return;
    }
    recognizer = new Recognition();
    recognizer.lang = document.documentElement.lang || "en-US";
    recognizer.interimResults = false;
    recognizer.maxAlternatives = 1;
    recognizer.onresult = async function (e) {
      const text = e.results[0][0].transcript;
      setStatus("Thinking…");
      const reply = await chat().send(text);
      if (reply) { speak(reply.reply); setStatus("Press Talk to Luna to say more."); }
    };
    recognizer.onerror = function (e) { setStatus("I didn't catch that (" + e.error + ")."); };
    recognizer.onend = function () { setMode("idle"); recognizer = null; };
    setMode("listening");
    setStatus("Listening… (using your browser's speech recognition" +
      (synth ? " and voice" : "") + ")");
    recognizer.start();
  }

  function onButton() {
    if (button.dataset.mode === "realtime") {
      if (state.mode === "idle") startRealtime().catch(function (e) { fail("Voice failed: " + e.message); });
      else hangUp();
    } else if (recognizer) {
      recognizer.stop();
    } else {
      startBrowserSpeech();
    }
  }

  function init() {
    button = document.getElementById("voice-button");
    status = document.getElementById("voice-status");
    audio = document.getElementById("voice-audio");
    if (!button) return;
    if (button.dataset.mode !== "realtime" && !Recognition && !synth) {
      setStatus("Voice needs an OpenAI key on the server or a browser with speech support; " +
        "typing works everywhere.");
    }
    if (button.dataset.mode === "realtime" && !window.RTCPeerConnection) {
      button.dataset.mode = "browser";
    }
    button.addEventListener("click", onButton);
  }

  window.LunaVoice = { start: onButton, hangUp: hangUp, speak: speak };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
