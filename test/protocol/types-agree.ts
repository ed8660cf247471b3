/**
 * Compile-time only (checked by `npm run typecheck`): the wire interfaces the code builds its
 * answers with (src/core/types.ts) agree with the schemas the documents are built from. A field
 * added to one and not the other fails the typecheck here.
 */
import type { Static } from "@sinclair/typebox";
import type {
  ConversationSummarySchema,
  PresenceInfoSchema,
  SettingsSchema,
} from "../../src/core/conversation-schema.js";
import type {
  DeleteEventSchema,
  DeliveredEventSchema,
  HelloEventSchema,
  PairEventSchema,
  ReactionEventSchema,
  ReadEventSchema,
  ResetEventSchema,
  TypingEventSchema,
} from "../../src/core/events-schema.js";
import type {
  ImageRefSchema,
  LinkRefSchema,
  TombstoneSchema,
  WireMessage,
} from "../../src/core/message-schema.js";
import type {
  ConversationSummary,
  DeleteEvent,
  DeliveredEvent,
  HelloEvent,
  ImageRef,
  LinkRef,
  Message,
  PairEvent,
  PresenceInfo,
  ReactionEvent,
  ReadEvent,
  ResetEvent,
  Settings,
  Tombstone,
  TypingEvent,
} from "../../src/core/types.js";

/** Mutually assignable, with the same keys (so an optional field on one side only is caught too). */
type Mutual<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Same<A, B> = Mutual<A, B> extends true ? Mutual<keyof A, keyof B> : false;
type Assert<T extends true> = T;

export type Agree = [
  Assert<Same<ImageRef, Static<typeof ImageRefSchema>>>,
  Assert<Same<LinkRef, Static<typeof LinkRefSchema>>>,
  // A live message: the interface also allows the tombstone's kind; the wire has two shapes.
  Assert<Same<Omit<Message, "kind" | "deletedAt">, Omit<WireMessage, "kind">>>,
  Assert<Same<Tombstone, Static<typeof TombstoneSchema>>>,
  Assert<Same<ReadEvent, Static<typeof ReadEventSchema>>>,
  Assert<Same<TypingEvent, Static<typeof TypingEventSchema>>>,
  Assert<Same<ResetEvent, Static<typeof ResetEventSchema>>>,
  Assert<Same<HelloEvent, Static<typeof HelloEventSchema>>>,
  Assert<Same<PairEvent, Static<typeof PairEventSchema>>>,
  Assert<Same<DeleteEvent, Static<typeof DeleteEventSchema>>>,
  Assert<Same<ReactionEvent, Static<typeof ReactionEventSchema>>>,
  Assert<Same<DeliveredEvent, Static<typeof DeliveredEventSchema>>>,
  Assert<Same<Settings, Static<typeof SettingsSchema>>>,
  Assert<Same<PresenceInfo, Static<typeof PresenceInfoSchema>>>,
  Assert<
    Same<
      Omit<ConversationSummary, "lastMessage">,
      Omit<Static<typeof ConversationSummarySchema>, "lastMessage">
    >
  >,
];
