/**
 * Phones behind the fake REST API: a map from a `To` (number, sip:, client:) to a script. A call
 * created to one of them is driven like a real one (see call.ts, runner.ts); calls to any other
 * `To` stay passive records. Imports nothing from src/.
 */
import { placeCall, type CallResource, type PhoneCallControl } from './call.js';
import type { FakePhone, PhoneCall, PhoneOptions, PhoneScript } from './types.js';

export type * from './types.js';

export interface PhoneExchange {
  /** The phone at `to`, when one is scripted. */
  get(to: string): FakePhone | undefined;
  /** Adds or replaces a phone (its past calls are kept). */
  set(to: string, script: PhoneScript): FakePhone;
  /** Drives a call just created through REST, when its To is a phone; returns false otherwise. */
  place(resource: CallResource, rawForm: string): boolean;
  /** Whether a phone drives this call (its REST updates then go to update()). */
  owns(sid: string): boolean;
  /** A REST update of a phone's call: undefined when accepted, else the error Twilio would answer. */
  update(sid: string, form: Record<string, string>): { status: number; code: number; message: string } | undefined;
  /** Ends every call still up. */
  close(): Promise<void>;
}

export function createPhoneExchange(o: {
  phones: Record<string, PhoneScript>;
  options: PhoneOptions;
  accountSid: string;
  authToken: string;
  now: () => number;
}): PhoneExchange {
  const phones = new Map<string, FakePhone & { waiters: Set<() => void> }>();
  const controls = new Map<string, PhoneCallControl>();
  const busyNow = (calls: PhoneCall[]) => calls.some((c) => c.status === 'in-progress');

  const set = (to: string, script: PhoneScript): FakePhone => {
    const calls = phones.get(to)?.calls ?? [];
    const waiters = phones.get(to)?.waiters ?? new Set<() => void>();
    const phone = {
      to,
      script,
      calls,
      waiters,
      whenCall: (n = 0) =>
        new Promise<PhoneCall>((resolve) => {
          const check = () => {
            const c = calls[n];
            if (!c) return;
            waiters.delete(check);
            resolve(c);
          };
          waiters.add(check);
          check();
        }),
      overlaps: () => {
        const out: Array<{ first: PhoneCall; second: PhoneCall }> = [];
        for (const second of calls) {
          const placed = second.at('created')!;
          for (const first of calls) {
            if (first === second) continue;
            const answered = first.at('answered');
            const end = first.timeline.find((e) => ['completed', 'busy', 'no-answer', 'failed', 'canceled'].includes(e.type))?.at ?? Infinity;
            if (answered !== undefined && answered <= placed && placed < end) out.push({ first, second });
          }
        }
        return out;
      },
    };
    phones.set(to, phone);
    return phone;
  };
  for (const [to, script] of Object.entries(o.phones)) set(to, script);

  return {
    get: (to) => phones.get(to),
    set,
    place(resource, rawForm) {
      const phone = phones.get(resource.to);
      if (!phone) return false;
      const all = new URLSearchParams(rawForm);
      const script = phone.script;
      const callWaiting = script.kind === 'callWaiting' || (script.kind === 'person' && script.callWaiting === true);
      const control = placeCall({
        resource,
        form: Object.fromEntries(all),
        statusCallbackEvents: all.getAll('StatusCallbackEvent').flatMap((e) => e.split(/[\s,]+/)).filter(Boolean),
        script,
        options: o.options,
        accountSid: o.accountSid,
        authToken: o.authToken,
        now: o.now,
        onAnotherCall: !callWaiting && busyNow(phone.calls),
      });
      controls.set(resource.sid, control);
      phone.calls.push(control.call);
      for (const w of [...phone.waiters]) w();
      return true;
    },
    owns: (sid) => controls.has(sid),
    update: (sid, form) => controls.get(sid)?.update(form),
    close: async () => {
      await Promise.all([...controls.values()].map((c) => c.shutdown()));
    },
  };
}
