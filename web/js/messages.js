// Turns a failed transfer ({kind, code, message, ...} as transfer.js's
// TransferError, or the plain object the Worker posts) into the sentences
// the page shows. Pure; tested under node (test/page_logic.test.mjs).
//
// They say what happened, whether anything was saved and what to do next;
// the machine code stays visible in parentheses for bug reports.

// "no such file." → "no such file": a clause to embed in a sentence.
function clause(text) {
  return String(text ?? '').trim().replace(/[.\s]+$/, '');
}

// `what` is "download" or "listing"; `agent` the agent id.
export function describeFailure(err, { agent = 'the agent', what = 'download' } = {}) {
  const kind = err?.kind ?? 'local';
  const code = err?.code ?? 'unknown';
  const detail = clause(err?.message);
  const nothing = what === 'download' ? ' Nothing was saved.' : '';
  const said = (fallback) => clause(detail || fallback);
  switch (kind) {
    case 'refused':
      switch (code) {
        case 'unauthorized':
          return `Agent "${agent}" refused this browser (unauthorized): its key is not in the agent's ` +
                 `authorized_requesters. Give the agent's administrator the line under "This browser's identity".`;
        case 'busy':
          return `Agent "${agent}" is busy with other transfers (busy); try again in a moment.`;
        case 'replayed':
          return `Agent "${agent}" refused the request as a replay (replayed). Check this computer's clock and ` +
                 'try again.';
        default:
          return `Agent "${agent}" refused (${code}): ${said(code)}.`;
      }
    case 'integrity':
      return `Integrity check failed (${code}): ${said('the content did not verify')}. The content was altered, ` +
             `reordered or cut between the agent and this browser, so it was rejected.${nothing}`;
    case 'handshake':
      return `The answer did not verify against the pinned key of agent "${agent}" (handshake_failed): the relay ` +
             "is not passing the agent's messages faithfully, or the agent has a new key." + nothing;
    case 'aborted':
      return `Agent "${agent}" stopped the transfer (${err.agentCode ?? code}): ` +
             `${clause(err.agentMessage) || said('no reason given')}.${nothing}`;
    case 'relay':
      switch (code) {
        case 'unauthorized':
          return 'The relay no longer accepts your token (unauthorized). Sign in again.';
        case 'agent_offline':
          return `Agent "${agent}" is offline (agent_offline): it has no connection to the relay right now.`;
        case 'unknown_agent':
          return `The relay knows no agent "${agent}" for your token (unknown_agent).`;
        case 'expired':
          return `Agent "${agent}" did not answer in time (expired).${nothing}`;
        default:
          return `The relay ended the ${what} (${code}): ${said(code)}.${nothing}`;
      }
    case 'network':
      return `The relay could not be reached (${code}): ${said('no connection')}. Check the connection and try ` +
             `again.${nothing}`;
    case 'cancelled':
      return what === 'download' ? 'Download cancelled. Nothing was saved.' : 'Cancelled.';
    default:
      return `Saving failed (${code}): ${said('the browser could not write the file')}.${nothing}`;
  }
}
