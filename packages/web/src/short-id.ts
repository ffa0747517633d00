/**
 * A Kura id short enough to show: its last 8 hex digits. Ids are UUIDv7, whose leading digits are the creation
 * time, so ids made within the same minute share their first 8 and only the random end tells them apart.
 */
export const shortId = (id: string): string => id.replace(/-/g, '').slice(-8)
