/**
 * What the notifier (src/core/outbox/notifier.ts) asks before it notifies `user` about messages
 * from `peer`: the user's `notifications` setting and the conversation's mute (SPEC section 13).
 * The settings' owner implements it; until then every user has notifications on and nothing muted
 * (ALL_ON), which is the SPEC's default.
 */
export interface NotificationPreferences {
  notificationsOn(user: string): Promise<boolean>;
  muted(user: string, peer: string): Promise<boolean>;
}

export const ALL_ON: NotificationPreferences = {
  notificationsOn: async () => true,
  muted: async () => false,
};
