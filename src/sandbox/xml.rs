//! A small XML tree for rewriting AWS responses in the realism layer: parse with quick-xml,
//! change the text of a few elements, write it back. Everything not touched is written as it
//! came (namespaces, declaration, entity references).

use quick_xml::Reader;
use quick_xml::Writer;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};

/// An element and its children.
#[derive(Clone, Debug)]
pub struct Element {
    start: BytesStart<'static>,
    /// The children, in order.
    pub children: Vec<Child>,
}

/// A child of an element.
#[derive(Clone, Debug)]
pub enum Child {
    /// A nested element.
    Element(Element),
    /// Anything else (text, entity references, comments), kept as it came.
    Other(Event<'static>),
}

/// A parsed document: what precedes the root element, and the root.
#[derive(Clone, Debug)]
pub struct Document {
    prolog: Vec<Event<'static>>,
    /// The root element.
    pub root: Element,
}

impl Element {
    /// A new element with a text child.
    pub fn with_text(name: &str, text: &str) -> Self {
        let mut e = Self {
            start: BytesStart::new(name.to_owned()),
            children: Vec::new(),
        };
        e.set_text(text);
        e
    }

    /// The local name (without a namespace prefix).
    pub fn name(&self) -> String {
        let name = self.start.local_name();
        name.into_inner().to_owned()
    }

    /// The text of the element (its text children, concatenated; entity references kept).
    pub fn text(&self) -> String {
        let mut out = String::new();
        for child in &self.children {
            match child {
                Child::Other(Event::Text(t)) => out.push_str(t),
                Child::Other(Event::GeneralRef(r)) => {
                    out.push('&');
                    out.push_str(r);
                    out.push(';');
                }
                _ => {}
            }
        }
        out
    }

    /// Replaces the children with one text.
    pub fn set_text(&mut self, text: &str) {
        self.children = vec![Child::Other(Event::Text(BytesText::new(text).into_owned()))];
    }

    /// The first child element named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find_map(|c| match c {
            Child::Element(e) if e.name() == name => Some(e),
            _ => None,
        })
    }

    /// The first child element named `name`, mutably.
    pub fn child_mut(&mut self, name: &str) -> Option<&mut Element> {
        self.children.iter_mut().find_map(|c| match c {
            Child::Element(e) if e.name() == name => Some(e),
            _ => None,
        })
    }

    /// The element at `path` below this one.
    pub fn at(&self, path: &[&str]) -> Option<&Element> {
        path.iter().try_fold(self, |e, name| e.child(name))
    }

    /// The element at `path` below this one, mutably.
    pub fn at_mut(&mut self, path: &[&str]) -> Option<&mut Element> {
        let mut e = self;
        for name in path {
            e = e.child_mut(name)?;
        }
        Some(e)
    }

    /// Calls `f` on this element and every element below it, parents first.
    pub fn visit_mut(&mut self, f: &mut impl FnMut(&mut Element)) {
        f(self);
        for child in &mut self.children {
            if let Child::Element(e) = child {
                e.visit_mut(f);
            }
        }
    }

    /// Calls `f` on this element and every element below it, parents first.
    pub fn visit(&self, f: &mut impl FnMut(&Element)) {
        f(self);
        for child in &self.children {
            if let Child::Element(e) = child {
                e.visit(f);
            }
        }
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) -> std::io::Result<()> {
        if self.children.is_empty() {
            return w.write_event(Event::Empty(self.start.borrow()));
        }
        w.write_event(Event::Start(self.start.borrow()))?;
        for child in &self.children {
            match child {
                Child::Element(e) => e.write(w)?,
                Child::Other(ev) => w.write_event(ev.borrow())?,
            }
        }
        w.write_event(Event::End(BytesEnd::new(
            self.start.name().into_inner().to_owned(),
        )))
    }
}

impl Document {
    /// Parses `bytes`; `None` when they are not well-formed XML with one root.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let mut reader = Reader::from_reader(bytes);
        let mut prolog = Vec::new();
        let mut stack: Vec<Element> = Vec::new();
        let mut buf = Vec::new();
        loop {
            let event = reader.read_event_into(&mut buf).ok()?.into_owned();
            match event {
                Event::Start(start) => stack.push(Element {
                    start,
                    children: Vec::new(),
                }),
                Event::Empty(start) => {
                    let e = Element {
                        start,
                        children: Vec::new(),
                    };
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(Child::Element(e)),
                        None => return Some(Self { prolog, root: e }),
                    }
                }
                Event::End(_) => {
                    let e = stack.pop()?;
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(Child::Element(e)),
                        None => return Some(Self { prolog, root: e }),
                    }
                }
                Event::Eof => return None,
                other => match stack.last_mut() {
                    Some(parent) => parent.children.push(Child::Other(other)),
                    None => prolog.push(other),
                },
            }
            buf.clear();
        }
    }

    /// Writes the document back.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(Vec::new());
        for ev in &self.prolog {
            let _ = w.write_event(ev.borrow());
        }
        let _ = self.root.write(&mut w);
        w.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rewrites() {
        let text = r#"<?xml version="1.0"?><R xmlns="http://x/"><Items><Item><Id>a&amp;b</Id><Status>available</Status></Item><Item><Id>c</Id><Status/></Item></Items></R>"#;
        let mut doc = Document::parse(text.as_bytes()).expect("xml");
        assert_eq!(String::from_utf8(doc.to_bytes()).expect("utf8"), text);
        doc.root.visit_mut(&mut |e| {
            if e.child("Id").is_some_and(|id| id.text() == "c") {
                e.child_mut("Status").expect("status").set_text("creating");
            }
        });
        let out = String::from_utf8(doc.to_bytes()).expect("utf8");
        assert!(
            out.contains("<Item><Id>c</Id><Status>creating</Status></Item>"),
            "{out}"
        );
        assert_eq!(
            doc.root
                .at(&["Items", "Item", "Id"])
                .map(Element::text)
                .as_deref(),
            Some("a&amp;b")
        );
    }
}
