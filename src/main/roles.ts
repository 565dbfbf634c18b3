/** The roles a server-mode process can take (`embudo serve --role <role>`); `all` is every one. */
export const ROLES = ['api', 'catalog', 'inventory', 'checkout', 'payments', 'events', 'analytics', 'bi', 'storefront'] as const;
export type Role = (typeof ROLES)[number];
