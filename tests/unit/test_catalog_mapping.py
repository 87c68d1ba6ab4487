import csv
import io

import pytest

from shared.catalog.mapping import COLUMNS, HEADER, categories, encode_rows, sku_name, sku_row
from tests.conftest import load_fixture


@pytest.fixture
def sku():
    """VTEX's documented "Get SKU and context" example."""
    return load_fixture("catalog_sku_2001773.json")


def test_documented_sku(sku):
    row = dict(zip(COLUMNS, sku_row(sku)))

    assert row["Identity"] == row["SkuId"] == "2001773"
    assert row["ProductId"] == "2001426"
    assert row["Ean"] == sku["AlternateIds"]["Ean"] and row["RefId"] == sku["AlternateIds"]["RefId"]
    assert row["Name"] == sku["NameComplete"]
    assert row["BrandName"] == sku["BrandName"]
    assert row["SalesChannels"] == ",".join(str(c) for c in sku["SalesChannels"])
    assert row["CommercialCondition"] == str(sku["CommercialConditionId"])
    assert row["Categories"] == "Brinquedos"
    # The full-size image, not the 55x55 thumbnail in ImageUrl.
    assert row["ImageUrl"] == sku["Images"][0]["ImageUrl"]


def test_inactive_sku_is_skipped(sku):
    sku["IsActive"] = False

    assert sku_row(sku) is None


def test_null_sub_objects(sku):
    sku.update(AlternateIds=None, ProductCategories=None, SalesChannels=None, Images=None, NameComplete=None,
               CommercialConditionId=None)

    row = dict(zip(COLUMNS, sku_row(sku)))

    assert (row["Ean"], row["RefId"], row["Categories"], row["SalesChannels"], row["CommercialCondition"]) == (
        "", "", "", "", "")
    assert row["ImageUrl"] == sku["ImageUrl"]
    # The documented SKU is named like its product: the seed wrote "Tabela de Basquete - Tabela de Basquete".
    assert row["Name"] == "Tabela de Basquete"


@pytest.mark.parametrize(
    ("complete", "product", "name", "expected"),
    [("Shoe 42", "Shoe", "42", "Shoe 42"), (None, "Shoe", "Shoe", "Shoe"), ("", "Shoe", "", "Shoe"),
     (None, "", "42", "42")],
)
def test_names(complete, product, name, expected):
    assert sku_name({"NameComplete": complete, "ProductName": product, "SkuName": name}) == expected


def test_categories_follow_the_id_path_root_to_leaf():
    sku = {"ProductCategoryIds": "/1/20/300/", "ProductCategories": {"300": "Running", "1": "Apparel", "20": "Shoes"}}

    assert categories(sku) == "Apparel - Shoes - Running"


def test_csv_quoting_round_trips_awkward_text():
    rows = [("1", "p", "1", "", "", 'Tam. 42 "Largo"', "u", "A, B", "Marca", "1,2", "1"),
            ("2", "p", "2", "", "", "Kit 2\nunidades", "u", "Ação 日本", "", "", "")]

    data = HEADER + encode_rows(rows)

    assert data.startswith(b"Identity,ProductId,SkuId,Ean,RefId,Name,ImageUrl,Categories,BrandName,SalesChannels,"
                           b"CommercialCondition\r\n")
    assert b'"Tam. 42 ""Largo"""' in data and b'"A, B"' in data and b'"Kit 2\nunidades"' in data
    parsed = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert parsed == [list(COLUMNS), *[list(r) for r in rows]]
