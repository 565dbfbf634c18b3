import type { NewProduct } from './domain/schemas.js';

/** The demo catalogue seeded on first start: a small Chilean shop, prices in CLP. */
export const DEMO_CATEGORIES = [
  { slug: 'despensa', name: 'Despensa' },
  { slug: 'bebidas', name: 'Bebidas' },
  { slug: 'hogar', name: 'Hogar' },
  { slug: 'vestuario', name: 'Vestuario' },
] as const;

const p = (name: string, category: string, skus: [string, string, number, Record<string, string>][]): NewProduct => ({
  name,
  category,
  description: '',
  skus: skus.map(([sku, skuName, price, attributes]) => ({ sku, name: skuName, price, attributes })),
});

export const DEMO_PRODUCTS: NewProduct[] = [
  p('Arroz grado 1', 'despensa', [
    ['ARROZ-1KG', 'Arroz grado 1 1 kg', 1590, { peso: '1 kg' }],
    ['ARROZ-5KG', 'Arroz grado 1 5 kg', 6990, { peso: '5 kg' }],
  ]),
  p('Aceite de maravilla', 'despensa', [
    ['ACEITE-1L', 'Aceite de maravilla 1 L', 2890, { volumen: '1 L' }],
    ['ACEITE-5L', 'Aceite de maravilla 5 L', 12990, { volumen: '5 L' }],
  ]),
  p('Porotos granados', 'despensa', [['POROTOS-1KG', 'Porotos granados 1 kg', 3290, { peso: '1 kg' }]]),
  p('Harina sin polvos', 'despensa', [['HARINA-1KG', 'Harina sin polvos 1 kg', 1290, { peso: '1 kg' }]]),
  p('Manjar', 'despensa', [
    ['MANJAR-400G', 'Manjar 400 g', 1990, { peso: '400 g' }],
    ['MANJAR-1KG', 'Manjar 1 kg', 4290, { peso: '1 kg' }],
  ]),
  p('Té negro', 'despensa', [['TE-100', 'Té negro 100 bolsitas', 3490, { unidades: '100' }]]),
  p('Café de grano', 'despensa', [['CAFE-250G', 'Café de grano 250 g', 6490, { peso: '250 g' }]]),
  p('Agua mineral con gas', 'bebidas', [
    ['AGUA-GAS-1.5L', 'Agua mineral con gas 1,5 L', 990, { volumen: '1,5 L' }],
    ['AGUA-GAS-6X1.5L', 'Agua mineral con gas pack 6 × 1,5 L', 5490, { volumen: '6 × 1,5 L' }],
  ]),
  p('Jugo de durazno', 'bebidas', [['JUGO-DURAZNO-1L', 'Néctar de durazno 1 L', 1390, { volumen: '1 L' }]]),
  p('Vino tinto Carmenere', 'bebidas', [
    ['VINO-CARMENERE-750', 'Carmenere reserva 750 ml', 7990, { volumen: '750 ml', cepa: 'Carmenere' }],
  ]),
  p('Pisco 35°', 'bebidas', [['PISCO-35-1L', 'Pisco 35° 1 L', 8990, { volumen: '1 L', grados: '35' }]]),
  p('Mote con huesillo', 'bebidas', [['MOTE-HUESILLO-1L', 'Mote con huesillo 1 L', 2490, { volumen: '1 L' }]]),
  p('Detergente líquido', 'hogar', [
    ['DETERGENTE-3L', 'Detergente líquido 3 L', 8990, { volumen: '3 L' }],
    ['DETERGENTE-5L', 'Detergente líquido 5 L', 13490, { volumen: '5 L' }],
  ]),
  p('Papel higiénico doble hoja', 'hogar', [['PAPEL-12R', 'Papel higiénico 12 rollos', 7490, { rollos: '12' }]]),
  p('Toalla de baño', 'hogar', [
    ['TOALLA-BLANCA', 'Toalla de baño blanca', 9990, { color: 'blanco' }],
    ['TOALLA-AZUL', 'Toalla de baño azul', 9990, { color: 'azul' }],
  ]),
  p('Sartén antiadherente', 'hogar', [
    ['SARTEN-24', 'Sartén antiadherente 24 cm', 15990, { diametro: '24 cm' }],
    ['SARTEN-28', 'Sartén antiadherente 28 cm', 19990, { diametro: '28 cm' }],
  ]),
  p('Polera de algodón', 'vestuario', [
    ['POLERA-S-NEGRA', 'Polera de algodón S negra', 8990, { talla: 'S', color: 'negro' }],
    ['POLERA-M-NEGRA', 'Polera de algodón M negra', 8990, { talla: 'M', color: 'negro' }],
    ['POLERA-L-NEGRA', 'Polera de algodón L negra', 8990, { talla: 'L', color: 'negro' }],
  ]),
  p('Chaleco de lana', 'vestuario', [
    ['CHALECO-M-GRIS', 'Chaleco de lana M gris', 24990, { talla: 'M', color: 'gris' }],
    ['CHALECO-L-GRIS', 'Chaleco de lana L gris', 24990, { talla: 'L', color: 'gris' }],
  ]),
  p('Calcetines térmicos', 'vestuario', [['CALCETINES-3P', 'Calcetines térmicos pack 3', 5990, { unidades: '3' }]]),
  p('Parka impermeable', 'vestuario', [
    ['PARKA-M-ROJA', 'Parka impermeable M roja', 49990, { talla: 'M', color: 'rojo' }],
    ['PARKA-L-ROJA', 'Parka impermeable L roja', 49990, { talla: 'L', color: 'rojo' }],
  ]),
];
