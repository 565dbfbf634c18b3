import { defineErrors } from '../platform/errors.js';

/** The BI context's error codes. */
export const biError = defineErrors({
  not_signed_in: 'unauthorized',
  bad_credentials: 'unauthorized',
  forbidden_for_role: 'forbidden',
  unknown_dashboard: 'not_found',
  unknown_panel: 'not_found',
  unknown_user: 'not_found',
  username_taken: 'conflict',
  weak_password: 'invalid',
  invalid_roles: 'invalid',
  invalid_filters: 'invalid',
  sql_invalid: 'invalid',
  sql_not_read_only: 'forbidden',
  sql_file_access: 'forbidden',
  sql_table_not_allowed: 'forbidden',
  sql_function_not_allowed: 'forbidden',
  query_timeout: 'invalid',
  port_unavailable: 'unavailable',
  unknown_review: 'not_found',
});
export type BiErrorCode = Parameters<typeof biError>[0];
