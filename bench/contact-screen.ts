/**
 * Microbenchmark of the contact-info screen (it runs on every send when DUET_SCREEN is not off):
 * µs per message over typical chat messages (mostly no digits), messages with numbers, and
 * messages with contact details. `node --import tsx bench/contact-screen.ts`
 */
import { screenText } from "../src/core/safety/contact-screen.js";

const typical = [
  "hey, how was your weekend?",
  "haha yes! I love that place, the coffee is amazing",
  "what time works for you tomorrow?",
  "I'm 29 and I have 3 kids, is that ok?",
  "let's meet at 7.30 near the station",
  "sounds good 😊 see you then",
  "I've been hiking a lot lately, you?",
  "did you see the game last night? 21 to 18!",
  "my flight lands at 10:45, I'll text you",
  "that place costs like $45 per person",
];
const contacts = [
  "call me 555-123-4567",
  "my insta is @jane.doe",
  "jane at gmail dot com",
  "five five five one two three four five six seven",
  "+44 20 7946 0958 or wa.me/447700900123",
];
const long =
  `${"a long message about nothing in particular, with a few numbers like 12 and 3.5, ".repeat(45)}`.slice(
    0,
    4000,
  );

function bench(name: string, texts: string[], rounds: number): void {
  for (let i = 0; i < 2000; i++) screenText(texts[i % texts.length] ?? "");
  const start = process.hrtime.bigint();
  let found = 0;
  for (let i = 0; i < rounds; i++) found += screenText(texts[i % texts.length] ?? "").length;
  const us = Number(process.hrtime.bigint() - start) / 1000 / rounds;
  console.log(
    `${name.padEnd(34)} ${us.toFixed(2).padStart(8)} µs/message  (${rounds} messages, ${found} findings)`,
  );
}

bench("typical chat (10 messages)", typical, 200_000);
bench("with contact details (5 messages)", contacts, 50_000);
bench("4000-character message", [long], 2_000);
