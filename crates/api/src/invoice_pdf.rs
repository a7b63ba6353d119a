//! Invoices and credit notes as PDF (A4), written with `pdf-writer` and the
//! embedded DejaVu Sans (regular and bold), subset to the glyphs used, so
//! any text of the order prints and the file stays small.
//!
//! Layout: logo and title, the seller's block and the document's numbers,
//! the buyer's billing and shipping addresses, the lines table (its header
//! repeated on every page), the totals with tax per rate, any difference
//! from the channel's total with its reason, the footer, and "Page n of m"
//! on documents of more than one page.

use std::collections::BTreeMap;
use std::io::Write as _;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use switchyard_domain::invoice::{DocumentKind, percent};
use switchyard_domain::order::Address;
use switchyard_domain::values::Currency;
use switchyard_storage::Invoice;

const REGULAR_TTF: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
const BOLD_TTF: &[u8] = include_bytes!("../assets/fonts/DejaVuSans-Bold.ttf");

/// A4 in points.
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 48.0;
/// Lowest a table row may sit before the page breaks (room for the page
/// number).
const BOTTOM: f32 = 64.0;
const ROW: f32 = 15.0;
const SMALL: f32 = 8.5;
const BODY: f32 = 9.5;

/// Why a PDF could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// The embedded font did not parse (a broken build).
    #[error("the embedded font cannot be read: {0}")]
    Font(String),
    /// Subsetting the font failed.
    #[error("the font cannot be subset: {0}")]
    Subset(String),
    /// The logo is not a PNG we can read.
    #[error("the logo is not a readable PNG: {0}")]
    Logo(String),
}

/// A decoded PNG logo: 8-bit RGB samples and, when it has one, its alpha.
#[derive(Debug)]
pub struct Logo {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
    alpha: Option<Vec<u8>>,
}

impl Logo {
    /// Decode a PNG (any colour type and depth) to 8-bit RGB and alpha.
    pub fn decode(png_bytes: &[u8]) -> Result<Self, PdfError> {
        let bad = |e: &dyn std::fmt::Display| PdfError::Logo(e.to_string());
        let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder.read_info().map_err(|e| bad(&e))?;
        let size = reader
            .output_buffer_size()
            .ok_or_else(|| PdfError::Logo("the image is too large".into()))?;
        if size > 64 * 1024 * 1024 {
            return Err(PdfError::Logo("the image is too large".into()));
        }
        let mut buf = vec![0; size];
        let info = reader.next_frame(&mut buf).map_err(|e| bad(&e))?;
        let px =
            usize::try_from(info.width).unwrap_or(0) * usize::try_from(info.height).unwrap_or(0);
        let mut rgb = Vec::with_capacity(px * 3);
        let mut alpha = Vec::new();
        for row in buf.chunks(info.line_size).take(info.height as usize) {
            match info.color_type {
                png::ColorType::Rgb => rgb.extend_from_slice(&row[..info.width as usize * 3]),
                png::ColorType::Rgba => {
                    for p in row.chunks_exact(4).take(info.width as usize) {
                        rgb.extend_from_slice(&p[..3]);
                        alpha.push(p[3]);
                    }
                }
                png::ColorType::Grayscale => {
                    for g in row.iter().take(info.width as usize) {
                        rgb.extend_from_slice(&[*g, *g, *g]);
                    }
                }
                png::ColorType::GrayscaleAlpha => {
                    for p in row.chunks_exact(2).take(info.width as usize) {
                        rgb.extend_from_slice(&[p[0], p[0], p[0]]);
                        alpha.push(p[1]);
                    }
                }
                png::ColorType::Indexed => {
                    return Err(PdfError::Logo("an indexed image was not expanded".into()));
                }
            }
        }
        if rgb.len() != px * 3 || info.width == 0 || info.height == 0 {
            return Err(PdfError::Logo("the image data is short".into()));
        }
        Ok(Self {
            width: info.width,
            height: info.height,
            rgb,
            alpha: (!alpha.is_empty()).then_some(alpha),
        })
    }
}

/// One embedded font: its glyphs as used so far (old id → id in the
/// subset) and the characters they show, for the `ToUnicode` map.
struct Font<'a> {
    face: ttf_parser::Face<'a>,
    data: &'a [u8],
    remap: subsetter::GlyphRemapper,
    unicode: BTreeMap<u16, char>,
    name: &'static [u8],
}

impl<'a> Font<'a> {
    fn new(data: &'a [u8], name: &'static [u8]) -> Result<Self, PdfError> {
        let face = ttf_parser::Face::parse(data, 0).map_err(|e| PdfError::Font(e.to_string()))?;
        let mut remap = subsetter::GlyphRemapper::new();
        // Glyph 0 (.notdef) stays glyph 0.
        remap.remap(0);
        Ok(Self {
            face,
            data,
            remap,
            unicode: BTreeMap::new(),
            name,
        })
    }

    fn units(&self) -> f32 {
        f32::from(self.face.units_per_em().max(1))
    }

    fn glyph(&self, c: char) -> ttf_parser::GlyphId {
        self.face
            .glyph_index(c)
            .or_else(|| self.face.glyph_index('?'))
            .unwrap_or(ttf_parser::GlyphId(0))
    }

    /// Width of `text` at `size` points.
    fn width(&self, text: &str, size: f32) -> f32 {
        let units: f32 = text
            .chars()
            .map(|c| f32::from(self.face.glyph_hor_advance(self.glyph(c)).unwrap_or(0)))
            .sum();
        units * size / self.units()
    }

    /// `text` as the subset's glyph ids (two bytes each), recording what
    /// it uses.
    fn encode(&mut self, text: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let g = self.glyph(c);
            let new = self.remap.remap(g.0);
            self.unicode.entry(new).or_insert(c);
            out.extend_from_slice(&new.to_be_bytes());
        }
        out
    }

    /// `text` cut to fit `max` points at `size`, with an ellipsis.
    fn fit(&self, text: &str, size: f32, max: f32) -> String {
        if self.width(text, size) <= max {
            return text.to_owned();
        }
        let mut s: String = text.to_owned();
        while !s.is_empty() && self.width(&format!("{s}…"), size) > max {
            s.pop();
        }
        format!("{}…", s.trim_end())
    }

    /// `text` broken into lines of at most `max` points.
    fn wrap(&self, text: &str, size: f32, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for para in text.split('\n') {
            let mut line = String::new();
            for word in para.split_whitespace() {
                let next = if line.is_empty() {
                    word.to_owned()
                } else {
                    format!("{line} {word}")
                };
                if self.width(&next, size) > max && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    line = self.fit(word, size, max);
                } else {
                    line = self.fit(&next, size, max);
                }
            }
            lines.push(line);
        }
        lines
    }

    /// Write the font's objects; `refs` are the Type0 font, the CID font,
    /// its descriptor, the font file and the `ToUnicode` map.
    fn write(&self, pdf: &mut Pdf, refs: [Ref; 5]) -> Result<(), PdfError> {
        let [type0, cid, descriptor, file, cmap_ref] = refs;
        let subset = subsetter::subset(self.data, 0, &self.remap)
            .map_err(|e| PdfError::Subset(format!("{e:?}")))?;
        let scale = 1000.0 / self.units();
        // A subset font's name starts with six letters and a plus.
        let mut base = b"SWYARD+".to_vec();
        base.extend_from_slice(self.name);
        let base = Name(&base);
        pdf.type0_font(type0)
            .base_font(base)
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid)
            .to_unicode(cmap_ref);
        let info = SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(b"Identity"),
            supplement: 0,
        };
        let mut c = pdf.cid_font(cid);
        c.subtype(CidFontType::Type2)
            .base_font(base)
            .system_info(info)
            .font_descriptor(descriptor)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        let widths: Vec<f32> = self
            .remap
            .remapped_gids()
            .map(|old| {
                f32::from(
                    self.face
                        .glyph_hor_advance(ttf_parser::GlyphId(old))
                        .unwrap_or(0),
                ) * scale
            })
            .collect();
        c.widths().consecutive(0, widths);
        c.finish();
        let bbox = self.face.global_bounding_box();
        pdf.font_descriptor(descriptor)
            .name(base)
            .flags(FontFlags::NON_SYMBOLIC)
            .bbox(Rect::new(
                f32::from(bbox.x_min) * scale,
                f32::from(bbox.y_min) * scale,
                f32::from(bbox.x_max) * scale,
                f32::from(bbox.y_max) * scale,
            ))
            .italic_angle(0.0)
            .ascent(f32::from(self.face.ascender()) * scale)
            .descent(f32::from(self.face.descender()) * scale)
            .cap_height(f32::from(self.face.capital_height().unwrap_or(700)) * scale)
            .stem_v(80.0)
            .font_file2(file);
        let compressed = deflate(&subset);
        pdf.stream(file, &compressed)
            .filter(Filter::FlateDecode)
            .pair(
                Name(b"Length1"),
                i32::try_from(subset.len()).unwrap_or(i32::MAX),
            );
        let mut cmap = pdf_writer::types::UnicodeCmap::new(Name(b"Custom"), info);
        for (g, ch) in &self.unicode {
            cmap.pair(*g, *ch);
        }
        pdf.cmap(cmap_ref, &cmap.finish());
        Ok(())
    }
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

/// Which of the two fonts.
#[derive(Clone, Copy)]
enum Face {
    Regular,
    Bold,
}

/// Text alignment within a column.
#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}

/// Pages being written: one content stream per page.
struct Writer<'a> {
    regular: Font<'a>,
    bold: Font<'a>,
    pages: Vec<Content>,
    y: f32,
}

impl Writer<'_> {
    fn page(&mut self) -> &mut Content {
        if self.pages.is_empty() {
            self.pages.push(Content::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn new_page(&mut self) {
        self.pages.push(Content::new());
        self.y = PAGE_H - MARGIN;
    }

    fn font(&self, f: Face) -> &Font<'_> {
        match f {
            Face::Regular => &self.regular,
            Face::Bold => &self.bold,
        }
    }

    fn text(&mut self, f: Face, size: f32, x: f32, y: f32, text: &str, align: Align) {
        let x = match align {
            Align::Left => x,
            Align::Right => x - self.font(f).width(text, size),
        };
        let (glyphs, name) = match f {
            Face::Regular => (self.regular.encode(text), Name(b"F1")),
            Face::Bold => (self.bold.encode(text), Name(b"F2")),
        };
        self.page()
            .begin_text()
            .set_font(name, size)
            .next_line(x, y)
            .show(Str(&glyphs))
            .end_text();
    }

    fn rule(&mut self, y: f32, grey: f32) {
        let c = self.page();
        c.set_stroke_rgb(grey, grey, grey)
            .set_line_width(0.6)
            .move_to(MARGIN, y)
            .line_to(PAGE_W - MARGIN, y)
            .stroke();
    }

    fn band(&mut self, y: f32, h: f32) {
        let c = self.page();
        c.set_fill_rgb(0.93, 0.94, 0.96)
            .rect(MARGIN, y, PAGE_W - 2.0 * MARGIN, h)
            .fill_nonzero()
            .set_fill_rgb(0.0, 0.0, 0.0);
    }
}

/// The lines table's columns: header, right edge (or left for text) and
/// alignment.
const COLUMNS: [(&str, f32, Align); 8] = [
    ("#", MARGIN + 17.0, Align::Right),
    ("SKU", MARGIN + 23.0, Align::Left),
    ("Description", MARGIN + 96.0, Align::Left),
    ("Qty", MARGIN + 290.0, Align::Right),
    ("Unit price", MARGIN + 348.0, Align::Right),
    ("Discount", MARGIN + 398.0, Align::Right),
    ("Tax", MARGIN + 436.0, Align::Right),
    ("Net", PAGE_W - MARGIN - 2.0, Align::Right),
];

fn address_lines(a: &Address) -> Vec<String> {
    let mut out = Vec::new();
    for v in [&a.name, &a.company, &a.line1, &a.line2] {
        if let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            out.push(v.to_owned());
        }
    }
    let city = [a.postal_code.as_deref(), a.city.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if !city.is_empty() {
        out.push(city);
    }
    let tail = [
        a.region.clone(),
        a.country.as_ref().map(ToString::to_string),
    ]
    .into_iter()
    .flatten()
    .filter(|v| !v.trim().is_empty())
    .collect::<Vec<_>>()
    .join(", ");
    if !tail.is_empty() {
        out.push(tail);
    }
    out
}

/// The invoice or credit note as a PDF. `credits` is the number of the
/// invoice a credit note credits; `logo` the store's logo (PNG).
pub fn render(
    inv: &Invoice,
    credits: Option<&str>,
    logo: Option<&[u8]>,
) -> Result<Vec<u8>, PdfError> {
    let d = &inv.document;
    let currency = Currency::parse(&d.currency).ok();
    let money = |v: i64| match &currency {
        Some(c) => c.format_amount(v),
        None => v.to_string(),
    };
    let mut w = Writer {
        regular: Font::new(REGULAR_TTF, b"DejaVuSans")?,
        bold: Font::new(BOLD_TTF, b"DejaVuSans-Bold")?,
        pages: Vec::new(),
        y: PAGE_H - MARGIN,
    };
    w.new_page();
    let logo = logo.map(Logo::decode).transpose().ok().flatten();

    // Title and the document's numbers, right.
    let right = PAGE_W - MARGIN;
    let title = match inv.kind {
        DocumentKind::Invoice => "INVOICE",
        DocumentKind::CreditNote => "CREDIT NOTE",
    };
    let mut y = PAGE_H - MARGIN - 16.0;
    w.text(Face::Bold, 20.0, right, y, title, Align::Right);
    y -= 20.0;
    let mut facts: Vec<(String, String)> = vec![
        ("Number".into(), inv.number.clone()),
        ("Date".into(), inv.issued_at.format("%Y-%m-%d").to_string()),
        ("Order".into(), d.order_number.clone()),
        (
            "Order date".into(),
            d.order_date.format("%Y-%m-%d").to_string(),
        ),
        ("Currency".into(), d.currency.clone()),
    ];
    if let Some(c) = credits {
        facts.insert(1, ("Credits invoice".into(), c.to_owned()));
    }
    for (k, v) in &facts {
        w.text(
            Face::Regular,
            BODY,
            right - 110.0,
            y,
            &format!("{k}:"),
            Align::Right,
        );
        w.text(Face::Bold, BODY, right, y, v, Align::Right);
        y -= 13.0;
    }
    let facts_bottom = y;

    // Logo and seller, left.
    let mut y = PAGE_H - MARGIN;
    let logo_size = logo.as_ref().map(|l| {
        let (lw, lh) = (l.width as f32, l.height as f32);
        let scale = (150.0 / lw).min(56.0 / lh);
        (lw * scale, lh * scale)
    });
    if let Some((lw, lh)) = logo_size {
        w.page()
            .save_state()
            .transform([lw, 0.0, 0.0, lh, MARGIN, y - lh])
            .x_object(Name(b"Im1"))
            .restore_state();
        y -= lh + 10.0;
    }
    let s = &d.seller;
    let seller_w = 260.0;
    if !s.name.is_empty() {
        let name = w.bold.fit(&s.name, 12.0, seller_w);
        y -= 12.0;
        w.text(Face::Bold, 12.0, MARGIN, y, &name, Align::Left);
        y -= 3.0;
    }
    let mut seller_lines: Vec<String> = s.address.clone();
    if let Some(v) = &s.vat_number {
        seller_lines.push(format!("VAT: {v}"));
    }
    if let Some(r) = &s.registration {
        seller_lines.push(format!("Registration: {r}"));
    }
    if let Some(e) = &s.email {
        seller_lines.push(e.clone());
    }
    for l in &seller_lines {
        y -= 11.5;
        let l = w.regular.fit(l, BODY, seller_w);
        w.text(Face::Regular, BODY, MARGIN, y, &l, Align::Left);
    }
    y = y.min(facts_bottom) - 22.0;

    // Buyer: bill to, ship to.
    let bill = {
        let mut b = address_lines(&d.buyer.billing_address);
        if b.is_empty() {
            b.extend(d.buyer.name.clone());
        }
        b.extend(d.buyer.email.clone());
        b
    };
    let ship = address_lines(&d.buyer.shipping_address);
    let col2 = MARGIN + 260.0;
    w.text(Face::Bold, BODY, MARGIN, y, "Bill to", Align::Left);
    if !ship.is_empty() {
        w.text(Face::Bold, BODY, col2, y, "Ship to", Align::Left);
    }
    let mut by = y;
    for l in &bill {
        by -= 11.5;
        let l = w.regular.fit(l, BODY, 240.0);
        w.text(Face::Regular, BODY, MARGIN, by, &l, Align::Left);
    }
    let mut sy = y;
    for l in &ship {
        sy -= 11.5;
        let l = w.regular.fit(l, BODY, 240.0);
        w.text(Face::Regular, BODY, col2, sy, &l, Align::Left);
    }
    w.y = by.min(sy) - 24.0;

    // Lines.
    let header = |w: &mut Writer<'_>| {
        let y = w.y;
        w.band(y - 5.0, ROW);
        for (h, x, a) in COLUMNS {
            w.text(Face::Bold, SMALL, x, y, h, a);
        }
        w.y -= ROW + 2.0;
    };
    header(&mut w);
    for l in &d.lines {
        if w.y < BOTTOM {
            w.new_page();
            header(&mut w);
        }
        let y = w.y;
        let sku = l.sku.clone().unwrap_or_default();
        let sku = w.regular.fit(&sku, SMALL, 70.0);
        let desc = w.regular.fit(&l.description, SMALL, 160.0);
        let cells = [
            l.line_no.to_string(),
            sku,
            desc,
            l.quantity.to_string(),
            money(l.unit_price),
            if l.discount == 0 {
                String::new()
            } else {
                money(l.discount)
            },
            percent(l.tax_rate_bp),
            money(l.net),
        ];
        for ((_, x, a), v) in COLUMNS.iter().zip(&cells) {
            w.text(Face::Regular, SMALL, *x, y, v, *a);
        }
        w.rule(y - 4.5, 0.88);
        w.y -= ROW;
    }

    // Totals, right.
    let mut totals: Vec<(String, String, Face)> = vec![("Net".into(), money(d.net), Face::Regular)];
    for t in &d.taxes {
        totals.push((
            format!("Tax {} on {}", percent(t.rate_bp), money(t.net)),
            money(t.tax),
            Face::Regular,
        ));
    }
    totals.push((format!("Total {}", d.currency), money(d.gross), Face::Bold));
    let needed = totals.len() as f32 * 14.0 + 10.0;
    if w.y - needed < BOTTOM {
        w.new_page();
    }
    w.y -= 6.0;
    for (k, v, f) in &totals {
        let y = w.y;
        w.text(*f, BODY, right - 95.0, y, k, Align::Right);
        w.text(*f, BODY, right - 2.0, y, v, Align::Right);
        w.y -= 14.0;
    }

    // Notes: prices, the difference from the channel, the reason, the footer.
    let mut notes: Vec<(Face, String)> = vec![(
        Face::Regular,
        format!(
            "Prices {} tax. Amounts rounded {}.",
            if d.prices_include_tax {
                "include"
            } else {
                "exclude"
            },
            d.rounding
        ),
    )];
    if let Some(diff) = &d.difference {
        notes.push((
            Face::Bold,
            format!(
                "Difference from the channel's total: {} {}",
                money(diff.amount),
                d.currency
            ),
        ));
        notes.push((Face::Regular, diff.explanation.clone()));
    }
    if let Some(r) = &d.reason {
        notes.push((Face::Regular, format!("Reason: {r}")));
    }
    if let Some(f) = &d.footer {
        notes.push((Face::Regular, f.clone()));
    }
    w.y -= 10.0;
    for (face, text) in notes {
        let lines = w.font(face).wrap(&text, SMALL, PAGE_W - 2.0 * MARGIN);
        for l in lines {
            if w.y < BOTTOM - 20.0 {
                w.new_page();
            }
            let y = w.y;
            w.text(face, SMALL, MARGIN, y, &l, Align::Left);
            w.y -= 11.0;
        }
        w.y -= 3.0;
    }

    // Page numbers.
    let count = w.pages.len();
    if count > 1 {
        for i in 0..count {
            let label = format!("Page {} of {count}  ·  {}", i + 1, inv.number);
            let width = w.regular.width(&label, SMALL);
            let glyphs = w.regular.encode(&label);
            w.pages[i]
                .begin_text()
                .set_font(Name(b"F1"), SMALL)
                .next_line((PAGE_W - width) / 2.0, 30.0)
                .show(Str(&glyphs))
                .end_text();
        }
    }

    // The file.
    let mut pdf = Pdf::new();
    let mut next = 1;
    let mut alloc = || {
        let r = Ref::new(next);
        next += 1;
        r
    };
    let catalog = alloc();
    let tree = alloc();
    let info = alloc();
    let regular: [Ref; 5] = [alloc(), alloc(), alloc(), alloc(), alloc()];
    let bold: [Ref; 5] = [alloc(), alloc(), alloc(), alloc(), alloc()];
    let image = logo.as_ref().map(|_| (alloc(), alloc()));
    let page_refs: Vec<(Ref, Ref)> = (0..count).map(|_| (alloc(), alloc())).collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_refs.iter().map(|(p, _)| *p))
        .count(i32::try_from(count).unwrap_or(i32::MAX));
    pdf.document_info(info)
        .title(TextStr(&format!("{} {}", title.to_lowercase(), inv.number)))
        .producer(TextStr("Switchyard"));
    for ((page, content), stream) in page_refs.iter().zip(std::mem::take(&mut w.pages)) {
        let mut p = pdf.page(*page);
        p.parent(tree)
            .media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
            .contents(*content);
        let mut res = p.resources();
        res.fonts()
            .pair(Name(b"F1"), regular[0])
            .pair(Name(b"F2"), bold[0]);
        if let Some((im, _)) = image {
            res.x_objects().pair(Name(b"Im1"), im);
        }
        res.finish();
        p.finish();
        let data = deflate(&stream.finish());
        pdf.stream(*content, &data).filter(Filter::FlateDecode);
    }
    w.regular.write(&mut pdf, regular)?;
    w.bold.write(&mut pdf, bold)?;
    if let (Some(l), Some((im, mask))) = (&logo, image) {
        let rgb = deflate(&l.rgb);
        let mut x = pdf.image_xobject(im, &rgb);
        x.width(i32::try_from(l.width).unwrap_or(1))
            .height(i32::try_from(l.height).unwrap_or(1))
            .bits_per_component(8);
        x.filter(Filter::FlateDecode);
        x.color_space().device_rgb();
        if l.alpha.is_some() {
            x.s_mask(mask);
        }
        x.finish();
        if let Some(a) = &l.alpha {
            let a = deflate(a);
            let mut m = pdf.image_xobject(mask, &a);
            m.width(i32::try_from(l.width).unwrap_or(1))
                .height(i32::try_from(l.height).unwrap_or(1))
                .bits_per_component(8);
            m.filter(Filter::FlateDecode);
            m.color_space().device_gray();
            m.finish();
        }
    }
    Ok(pdf.finish())
}
