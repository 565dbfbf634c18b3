import { defineErrors } from '../platform/errors.js';

/** The catalog's error codes, each with its kind. */
export const catalogError = defineErrors({
  product_not_found: 'not_found',
  sku_not_found: 'not_found',
  category_not_found: 'not_found',
  sku_exists: 'conflict',
  category_exists: 'conflict',
  invalid_catalog_input: 'invalid',
  admin_disabled: 'forbidden',
  forbidden: 'forbidden',
});

export type CatalogErrorCode = Parameters<typeof catalogError>[0];
