//! The three-letter codes an MRZ's issuing state and nationality may hold: ISO 3166-1 alpha-3
//! (249 codes, from the `pycountry` 24.6.1 database) and ICAO 9303 part 3's own (`D<<` for
//! Germany, the British `GBD` `GBN` `GBO` `GBP` `GBS`, the United Nations' `UNO` `UNA` `UNK`,
//! `EUE`, the organisations' `X..` codes, `XXA` stateless, `XXB` and `XXC` refugees, `XXX`
//! unspecified), Kosovo's `RKS` and `XKX`, the withdrawn `ANT` and `NTZ`, and the specimens'
//! `UTO`. A code read outside the list is what lets a state's misread letter be repaired.

/// Sorted, for [`known`]'s binary search.
const CODES: [&str; 279] = [
    "ABW", "AFG", "AGO", "AIA", "ALA", "ALB", "AND", "ANT", "ARE", "ARG", "ARM", "ASM", "ATA", "ATF", "ATG", "AUS",
    "AUT", "AZE", "BDI", "BEL", "BEN", "BES", "BFA", "BGD", "BGR", "BHR", "BHS", "BIH", "BLM", "BLR", "BLZ", "BMU",
    "BOL", "BRA", "BRB", "BRN", "BTN", "BVT", "BWA", "CAF", "CAN", "CCK", "CHE", "CHL", "CHN", "CIV", "CMR", "COD",
    "COG", "COK", "COL", "COM", "CPV", "CRI", "CUB", "CUW", "CXR", "CYM", "CYP", "CZE", "D<<", "DEU", "DJI", "DMA",
    "DNK", "DOM", "DZA", "ECU", "EGY", "ERI", "ESH", "ESP", "EST", "ETH", "EUE", "FIN", "FJI", "FLK", "FRA", "FRO",
    "FSM", "GAB", "GBD", "GBN", "GBO", "GBP", "GBR", "GBS", "GEO", "GGY", "GHA", "GIB", "GIN", "GLP", "GMB", "GNB",
    "GNQ", "GRC", "GRD", "GRL", "GTM", "GUF", "GUM", "GUY", "HKG", "HMD", "HND", "HRV", "HTI", "HUN", "IDN", "IMN",
    "IND", "IOT", "IRL", "IRN", "IRQ", "ISL", "ISR", "ITA", "JAM", "JEY", "JOR", "JPN", "KAZ", "KEN", "KGZ", "KHM",
    "KIR", "KNA", "KOR", "KWT", "LAO", "LBN", "LBR", "LBY", "LCA", "LIE", "LKA", "LSO", "LTU", "LUX", "LVA", "MAC",
    "MAF", "MAR", "MCO", "MDA", "MDG", "MDV", "MEX", "MHL", "MKD", "MLI", "MLT", "MMR", "MNE", "MNG", "MNP", "MOZ",
    "MRT", "MSR", "MTQ", "MUS", "MWI", "MYS", "MYT", "NAM", "NCL", "NER", "NFK", "NGA", "NIC", "NIU", "NLD", "NOR",
    "NPL", "NRU", "NTZ", "NZL", "OMN", "PAK", "PAN", "PCN", "PER", "PHL", "PLW", "PNG", "POL", "PRI", "PRK", "PRT",
    "PRY", "PSE", "PYF", "QAT", "REU", "RKS", "ROU", "RUS", "RWA", "SAU", "SDN", "SEN", "SGP", "SGS", "SHN", "SJM",
    "SLB", "SLE", "SLV", "SMR", "SOM", "SPM", "SRB", "SSD", "STP", "SUR", "SVK", "SVN", "SWE", "SWZ", "SXM", "SYC",
    "SYR", "TCA", "TCD", "TGO", "THA", "TJK", "TKL", "TKM", "TLS", "TON", "TTO", "TUN", "TUR", "TUV", "TWN", "TZA",
    "UGA", "UKR", "UMI", "UNA", "UNK", "UNO", "URY", "USA", "UTO", "UZB", "VAT", "VCT", "VEN", "VGB", "VIR", "VNM",
    "VUT", "WLF", "WSM", "XBA", "XCC", "XCE", "XCO", "XDC", "XEC", "XES", "XIM", "XKX", "XMP", "XOM", "XPO", "XXA",
    "XXB", "XXC", "XXX", "YEM", "ZAF", "ZMB", "ZWE",
];

/// `code` (three characters, fillers included: `D<<`) is an issuing state or nationality.
pub fn known(code: &str) -> bool {
    CODES.binary_search(&code).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_icao_codes_are_known_and_misreads_are_not() {
        assert!(CODES.windows(2).all(|w| w[0] < w[1]), "sorted");
        for c in ["FIN", "ITA", "D<<", "UTO", "XXA", "GBN", "EUE"] {
            assert!(known(c), "{c}");
        }
        for c in ["FHN", "HTA", "L7U", "D<", "QQQ"] {
            assert!(!known(c), "{c}");
        }
    }
}
