/**
 * Chile's 16 regions and their 346 comunas (the political-administrative division in force
 * since Ñuble was created in 2018, Ley 21.033). `code` is the region's CUT number, `iso` its
 * ISO 3166-2 code. Names are the official spellings; common variants are accepted as aliases.
 */
export interface ChileRegion {
  code: string;
  iso: string;
  name: string;
  comunas: readonly string[];
}

export const CHILE_REGIONS: readonly ChileRegion[] = [
  { code: '15', iso: 'CL-AP', name: 'Arica y Parinacota', comunas: ['Arica', 'Camarones', 'Putre', 'General Lagos'] },
  {
    code: '01', iso: 'CL-TA', name: 'Tarapacá',
    comunas: ['Iquique', 'Alto Hospicio', 'Pozo Almonte', 'Camiña', 'Colchane', 'Huara', 'Pica'],
  },
  {
    code: '02', iso: 'CL-AN', name: 'Antofagasta',
    comunas: ['Antofagasta', 'Mejillones', 'Sierra Gorda', 'Taltal', 'Calama', 'Ollagüe', 'San Pedro de Atacama', 'Tocopilla', 'María Elena'],
  },
  {
    code: '03', iso: 'CL-AT', name: 'Atacama',
    comunas: ['Copiapó', 'Caldera', 'Tierra Amarilla', 'Chañaral', 'Diego de Almagro', 'Vallenar', 'Alto del Carmen', 'Freirina', 'Huasco'],
  },
  {
    code: '04', iso: 'CL-CO', name: 'Coquimbo',
    comunas: [
      'La Serena', 'Coquimbo', 'Andacollo', 'La Higuera', 'Paihuano', 'Vicuña',
      'Illapel', 'Canela', 'Los Vilos', 'Salamanca',
      'Ovalle', 'Combarbalá', 'Monte Patria', 'Punitaqui', 'Río Hurtado',
    ],
  },
  {
    code: '05', iso: 'CL-VS', name: 'Valparaíso',
    comunas: [
      'Valparaíso', 'Casablanca', 'Concón', 'Juan Fernández', 'Puchuncaví', 'Quintero', 'Viña del Mar',
      'Isla de Pascua',
      'Los Andes', 'Calle Larga', 'Rinconada', 'San Esteban',
      'La Ligua', 'Cabildo', 'Papudo', 'Petorca', 'Zapallar',
      'Quillota', 'La Calera', 'Hijuelas', 'La Cruz', 'Nogales',
      'San Antonio', 'Algarrobo', 'Cartagena', 'El Quisco', 'El Tabo', 'Santo Domingo',
      'San Felipe', 'Catemu', 'Llaillay', 'Panquehue', 'Putaendo', 'Santa María',
      'Quilpué', 'Limache', 'Olmué', 'Villa Alemana',
    ],
  },
  {
    code: '13', iso: 'CL-RM', name: 'Metropolitana de Santiago',
    comunas: [
      'Santiago', 'Cerrillos', 'Cerro Navia', 'Conchalí', 'El Bosque', 'Estación Central', 'Huechuraba',
      'Independencia', 'La Cisterna', 'La Florida', 'La Granja', 'La Pintana', 'La Reina', 'Las Condes',
      'Lo Barnechea', 'Lo Espejo', 'Lo Prado', 'Macul', 'Maipú', 'Ñuñoa', 'Pedro Aguirre Cerda', 'Peñalolén',
      'Providencia', 'Pudahuel', 'Quilicura', 'Quinta Normal', 'Recoleta', 'Renca', 'San Joaquín',
      'San Miguel', 'San Ramón', 'Vitacura',
      'Puente Alto', 'Pirque', 'San José de Maipo',
      'Colina', 'Lampa', 'Tiltil',
      'San Bernardo', 'Buin', 'Calera de Tango', 'Paine',
      'Melipilla', 'Alhué', 'Curacaví', 'María Pinto', 'San Pedro',
      'Talagante', 'El Monte', 'Isla de Maipo', 'Padre Hurtado', 'Peñaflor',
    ],
  },
  {
    code: '06', iso: 'CL-LI', name: "Libertador General Bernardo O'Higgins",
    comunas: [
      'Rancagua', 'Codegua', 'Coinco', 'Coltauco', 'Doñihue', 'Graneros', 'Las Cabras', 'Machalí', 'Malloa',
      'Mostazal', 'Olivar', 'Peumo', 'Pichidegua', 'Quinta de Tilcoco', 'Rengo', 'Requínoa', 'San Vicente',
      'Pichilemu', 'La Estrella', 'Litueche', 'Marchihue', 'Navidad', 'Paredones',
      'San Fernando', 'Chépica', 'Chimbarongo', 'Lolol', 'Nancagua', 'Palmilla', 'Peralillo', 'Placilla',
      'Pumanque', 'Santa Cruz',
    ],
  },
  {
    code: '07', iso: 'CL-ML', name: 'Maule',
    comunas: [
      'Talca', 'Constitución', 'Curepto', 'Empedrado', 'Maule', 'Pelarco', 'Pencahue', 'Río Claro',
      'San Clemente', 'San Rafael',
      'Cauquenes', 'Chanco', 'Pelluhue',
      'Curicó', 'Hualañé', 'Licantén', 'Molina', 'Rauco', 'Romeral', 'Sagrada Familia', 'Teno', 'Vichuquén',
      'Linares', 'Colbún', 'Longaví', 'Parral', 'Retiro', 'San Javier', 'Villa Alegre', 'Yerbas Buenas',
    ],
  },
  {
    code: '16', iso: 'CL-NB', name: 'Ñuble',
    comunas: [
      'Chillán', 'Bulnes', 'Chillán Viejo', 'El Carmen', 'Pemuco', 'Pinto', 'Quillón', 'San Ignacio', 'Yungay',
      'Quirihue', 'Cobquecura', 'Coelemu', 'Ninhue', 'Portezuelo', 'Ránquil', 'Treguaco',
      'San Carlos', 'Coihueco', 'Ñiquén', 'San Fabián', 'San Nicolás',
    ],
  },
  {
    code: '08', iso: 'CL-BI', name: 'Biobío',
    comunas: [
      'Concepción', 'Coronel', 'Chiguayante', 'Florida', 'Hualqui', 'Lota', 'Penco', 'San Pedro de la Paz',
      'Santa Juana', 'Talcahuano', 'Tomé', 'Hualpén',
      'Lebu', 'Arauco', 'Cañete', 'Contulmo', 'Curanilahue', 'Los Álamos', 'Tirúa',
      'Los Ángeles', 'Antuco', 'Cabrero', 'Laja', 'Mulchén', 'Nacimiento', 'Negrete', 'Quilaco', 'Quilleco',
      'San Rosendo', 'Santa Bárbara', 'Tucapel', 'Yumbel', 'Alto Biobío',
    ],
  },
  {
    code: '09', iso: 'CL-AR', name: 'La Araucanía',
    comunas: [
      'Temuco', 'Carahue', 'Cunco', 'Curarrehue', 'Freire', 'Galvarino', 'Gorbea', 'Lautaro', 'Loncoche',
      'Melipeuco', 'Nueva Imperial', 'Padre Las Casas', 'Perquenco', 'Pitrufquén', 'Pucón', 'Saavedra',
      'Teodoro Schmidt', 'Toltén', 'Vilcún', 'Villarrica', 'Cholchol',
      'Angol', 'Collipulli', 'Curacautín', 'Ercilla', 'Lonquimay', 'Los Sauces', 'Lumaco', 'Purén',
      'Renaico', 'Traiguén', 'Victoria',
    ],
  },
  {
    code: '14', iso: 'CL-LR', name: 'Los Ríos',
    comunas: [
      'Valdivia', 'Corral', 'Lanco', 'Los Lagos', 'Máfil', 'Mariquina', 'Paillaco', 'Panguipulli',
      'La Unión', 'Futrono', 'Lago Ranco', 'Río Bueno',
    ],
  },
  {
    code: '10', iso: 'CL-LL', name: 'Los Lagos',
    comunas: [
      'Puerto Montt', 'Calbuco', 'Cochamó', 'Fresia', 'Frutillar', 'Los Muermos', 'Llanquihue', 'Maullín',
      'Puerto Varas',
      'Castro', 'Ancud', 'Chonchi', 'Curaco de Vélez', 'Dalcahue', 'Puqueldón', 'Queilén', 'Quellón',
      'Quemchi', 'Quinchao',
      'Osorno', 'Puerto Octay', 'Purranque', 'Puyehue', 'Río Negro', 'San Juan de la Costa', 'San Pablo',
      'Chaitén', 'Futaleufú', 'Hualaihué', 'Palena',
    ],
  },
  {
    code: '11', iso: 'CL-AI', name: 'Aysén del General Carlos Ibáñez del Campo',
    comunas: ['Coyhaique', 'Lago Verde', 'Aysén', 'Cisnes', 'Guaitecas', 'Cochrane', "O'Higgins", 'Tortel', 'Chile Chico', 'Río Ibáñez'],
  },
  {
    code: '12', iso: 'CL-MA', name: 'Magallanes y de la Antártica Chilena',
    comunas: [
      'Punta Arenas', 'Laguna Blanca', 'Río Verde', 'San Gregorio', 'Cabo de Hornos', 'Antártica',
      'Porvenir', 'Primavera', 'Timaukel', 'Natales', 'Torres del Paine',
    ],
  },
];

/** Spellings people write for a comuna, mapped to the official name. */
const COMUNA_ALIASES: Record<string, string> = {
  coihaique: 'Coyhaique',
  aisen: 'Aysén',
  'llay-llay': 'Llaillay',
  'llay llay': 'Llaillay',
  calera: 'La Calera',
  paiguano: 'Paihuano',
  'san francisco de mostazal': 'Mostazal',
  'puerto natales': 'Natales',
  'til til': 'Tiltil',
  'cabo de hornos (ex-navarino)': 'Cabo de Hornos',
  'navarino': 'Cabo de Hornos',
  'rapa nui': 'Isla de Pascua',
  'marchigue': 'Marchihue',
  'san vicente de tagua tagua': 'San Vicente',
  'teodoro schmidt': 'Teodoro Schmidt',
  'alto bio bio': 'Alto Biobío',
  'chol chol': 'Cholchol',
};

/** Lower-case, no accents, single spaces: how names are compared. */
export function normalizeName(s: string): string {
  return s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[’`´]/g, "'")
    .replace(/\s+/g, ' ')
    .trim();
}

const regionByKey = new Map<string, ChileRegion>();
const comunasByRegion = new Map<ChileRegion, Map<string, string>>();
for (const region of CHILE_REGIONS) {
  for (const key of [region.code, String(Number(region.code)), region.iso, region.name, `Región de ${region.name}`, `Región del ${region.name}`]) {
    regionByKey.set(normalizeName(key), region);
  }
  comunasByRegion.set(region, new Map(region.comunas.map((c) => [normalizeName(c), c])));
}
// Names people commonly use for a region besides its official one.
for (const [alias, iso] of [
  ['metropolitana', 'CL-RM'], ['region metropolitana', 'CL-RM'], ['rm', 'CL-RM'], ['santiago', 'CL-RM'],
  ["o'higgins", 'CL-LI'], ['libertador bernardo ohiggins', 'CL-LI'], ['bio bio', 'CL-BI'], ['bio-bio', 'CL-BI'],
  ['araucania', 'CL-AR'], ['aysen', 'CL-AI'], ['magallanes', 'CL-MA'], ['nuble', 'CL-NB'],
] as const) {
  const region = CHILE_REGIONS.find((r) => r.iso === iso);
  if (region) regionByKey.set(normalizeName(alias), region);
}

/** The region named by its CUT code, ISO code, or name (accents and case ignored). */
export function findRegion(nameOrCode: string): ChileRegion | undefined {
  return regionByKey.get(normalizeName(nameOrCode));
}

/** The official name of a comuna in that region, or undefined when it is not one of them. */
export function findComuna(region: ChileRegion, name: string): string | undefined {
  const key = normalizeName(name);
  const comunas = comunasByRegion.get(region);
  const direct = comunas?.get(key);
  if (direct) return direct;
  const alias = COMUNA_ALIASES[key];
  return alias !== undefined ? comunas?.get(normalizeName(alias)) : undefined;
}

/** The regions holding a comuna of that name (San Pedro, Los Lagos... help say where it is). */
export function regionsOfComuna(name: string): ChileRegion[] {
  return CHILE_REGIONS.filter((r) => findComuna(r, name) !== undefined);
}
