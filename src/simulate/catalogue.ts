import type { NewProduct } from '../catalog/index.js';
import type { Rng } from './rng.js';

/** A category of the simulated shop: names to combine, a price range and how often it sells. */
interface CategorySpec {
  slug: string;
  name: string;
  nouns: readonly string[];
  qualifiers: readonly string[];
  /** Variant axis and its values (sizes, colours, volumes). */
  variants: { attribute: string; values: readonly string[] };
  price: { min: number; max: number };
  /** Relative share of purchases. */
  demand: number;
  /** Units per line a shopper usually takes. */
  maxUnits: number;
}

const CATEGORIES: readonly CategorySpec[] = [
  {
    slug: 'sim-despensa', name: 'Despensa', demand: 22, maxUnits: 6,
    nouns: ['Arroz', 'Fideos', 'Aceite', 'Azúcar', 'Harina', 'Lentejas', 'Porotos', 'Té', 'Café', 'Mermelada', 'Atún', 'Salsa de tomate'],
    qualifiers: ['grado 1', 'integral', 'orgánico', 'tradicional', 'premium', 'económico'],
    variants: { attribute: 'tamaño', values: ['250 g', '500 g', '1 kg', '5 kg'] },
    price: { min: 690, max: 12_990 },
  },
  {
    slug: 'sim-bebidas', name: 'Bebidas', demand: 14, maxUnits: 12,
    nouns: ['Agua mineral', 'Jugo', 'Bebida cola', 'Cerveza', 'Vino tinto', 'Vino blanco', 'Pisco', 'Néctar'],
    qualifiers: ['sin azúcar', 'light', 'reserva', 'artesanal', 'clásico'],
    variants: { attribute: 'volumen', values: ['350 ml', '1 L', '1.5 L', '3 L'] },
    price: { min: 590, max: 19_990 },
  },
  {
    slug: 'sim-electro', name: 'Electrónica', demand: 8, maxUnits: 1,
    nouns: ['Audífonos', 'Parlante', 'Smartwatch', 'Notebook', 'Tablet', 'Monitor', 'Teclado', 'Mouse', 'Televisor'],
    qualifiers: ['inalámbrico', 'gamer', 'pro', 'básico', '4K', 'bluetooth'],
    variants: { attribute: 'color', values: ['negro', 'blanco', 'gris', 'azul'] },
    price: { min: 9_990, max: 899_990 },
  },
  {
    slug: 'sim-hogar', name: 'Hogar', demand: 12, maxUnits: 3,
    nouns: ['Toalla', 'Sábanas', 'Olla', 'Sartén', 'Lámpara', 'Cojín', 'Alfombra', 'Set de vasos', 'Cortina'],
    qualifiers: ['algodón', 'antiadherente', 'moderno', 'nórdico', 'clásico'],
    variants: { attribute: 'medida', values: ['S', 'M', 'L', '2 plazas'] },
    price: { min: 2_990, max: 89_990 },
  },
  {
    slug: 'sim-vestuario', name: 'Vestuario', demand: 16, maxUnits: 2,
    nouns: ['Polera', 'Jeans', 'Polerón', 'Chaqueta', 'Zapatillas', 'Calcetines', 'Vestido', 'Camisa', 'Parka'],
    qualifiers: ['slim', 'oversize', 'deportivo', 'casual', 'térmico'],
    variants: { attribute: 'talla', values: ['S', 'M', 'L', 'XL'] },
    price: { min: 3_990, max: 79_990 },
  },
  {
    slug: 'sim-deportes', name: 'Deportes', demand: 6, maxUnits: 2,
    nouns: ['Bicicleta', 'Mancuernas', 'Mat de yoga', 'Pelota', 'Carpa', 'Mochila', 'Saco de dormir'],
    qualifiers: ['outdoor', 'pro', 'liviano', 'plegable'],
    variants: { attribute: 'modelo', values: ['básico', 'avanzado', 'competición'] },
    price: { min: 4_990, max: 349_990 },
  },
  {
    slug: 'sim-belleza', name: 'Belleza', demand: 9, maxUnits: 3,
    nouns: ['Shampoo', 'Crema', 'Perfume', 'Protector solar', 'Jabón', 'Desodorante', 'Maquillaje'],
    qualifiers: ['hidratante', 'natural', 'sin perfume', 'FPS 50', 'hipoalergénico'],
    variants: { attribute: 'contenido', values: ['100 ml', '250 ml', '400 ml'] },
    price: { min: 1_490, max: 69_990 },
  },
  {
    slug: 'sim-juguetes', name: 'Juguetes', demand: 7, maxUnits: 2,
    nouns: ['Muñeca', 'Auto a control remoto', 'Puzzle', 'Bloques', 'Peluche', 'Juego de mesa'],
    qualifiers: ['educativo', 'clásico', 'deluxe', 'mini'],
    variants: { attribute: 'edad', values: ['3+', '6+', '10+'] },
    price: { min: 2_990, max: 129_990 },
  },
  {
    slug: 'sim-mascotas', name: 'Mascotas', demand: 6, maxUnits: 3,
    nouns: ['Alimento perro', 'Alimento gato', 'Arena sanitaria', 'Cama', 'Juguete mordedor', 'Correa'],
    qualifiers: ['adulto', 'cachorro', 'senior', 'premium'],
    variants: { attribute: 'tamaño', values: ['1 kg', '3 kg', '15 kg'] },
    price: { min: 1_990, max: 64_990 },
  },
];

export interface SimSku {
  sku: string;
  category: string;
  price: number;
  /** Relative popularity inside the whole catalogue (Zipf-like). */
  weight: number;
  maxUnits: number;
}

export interface SimCatalogue {
  categories: { slug: string; name: string }[];
  products: NewProduct[];
  skus: SimSku[];
}

/** Rounds a peso price the way Chilean shops do: ending in 90. */
function shopPrice(value: number): number {
  return Math.max(590, Math.round(value / 100) * 100 - 10);
}

/**
 * A catalogue of about `skuCount` SKUs in categories, deterministic from the generator:
 * products with 1–4 variants, prices log-uniform in the category's range, popularity skewed
 * (a few best sellers, a long tail).
 */
export function generateCatalogue(rng: Rng, skuCount: number): SimCatalogue {
  const products: NewProduct[] = [];
  const skus: SimSku[] = [];
  const totalDemand = CATEGORIES.reduce((s, c) => s + c.demand, 0);
  let productNo = 0;
  for (const [ci, cat] of CATEGORIES.entries()) {
    const target = Math.max(4, Math.round((skuCount * cat.demand) / totalDemand));
    let made = 0;
    let rank = 0;
    while (made < target) {
      productNo += 1;
      const noun = rng.pick(cat.nouns);
      const qualifier = rng.pick(cat.qualifiers);
      const brand = rng.pick(BRANDS);
      const name = `${noun} ${qualifier} ${brand}`;
      const nVariants = Math.min(target - made, rng.int(1, Math.min(4, cat.variants.values.length)));
      const base = Math.exp(Math.log(cat.price.min) + rng.next() * (Math.log(cat.price.max) - Math.log(cat.price.min)));
      const code = `SIM-${String(ci + 1).padStart(2, '0')}-${String(productNo).padStart(5, '0')}`;
      const variantSkus = cat.variants.values.slice(0, nVariants).map((value, vi) => {
        rank += 1;
        const price = shopPrice(base * (1 + vi * 0.35));
        skus.push({ sku: `${code}-${vi + 1}`, category: cat.slug, price, weight: (cat.demand / target) * (1 / Math.sqrt(rank)) * 10, maxUnits: cat.maxUnits });
        return { sku: `${code}-${vi + 1}`, name: `${name} ${value}`, price, attributes: { [cat.variants.attribute]: value, marca: brand } };
      });
      products.push({ name, description: `${noun} ${qualifier} de ${brand}.`, category: cat.slug, skus: variantSkus });
      made += nVariants;
    }
  }
  return { categories: CATEGORIES.map((c) => ({ slug: c.slug, name: c.name })), products, skus };
}

const BRANDS = ['Andes', 'Pacífico', 'Austral', 'Cordillera', 'Atacama', 'Patagonia', 'Maule', 'Valle Central', 'Los Lagos', 'Chiloé', 'Elqui', 'Biobío'];
